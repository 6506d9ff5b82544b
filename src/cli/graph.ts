/** `warden graph`: the session statechart as Mermaid, DOT or the JSON definition Stately imports. */
import { Option } from 'commander';
import type { RegisterVerb } from './shared.js';

export const registerGraph: RegisterVerb = (program, globals) => {
  const command = program
    .command('graph')
    .description('print the session statechart, derived from the machine itself')
    .addOption(
      new Option('--format <format>', 'mermaid | dot | json (the machine definition, for Stately)')
        .choices(['mermaid', 'dot', 'json'])
        .default('mermaid'),
    )
    .addHelpText('after', '\nExamples:\n  warden graph --format dot | dot -Tsvg > session.svg\n  warden graph --format json > session.json')
    .action(async (opts: { format: 'mermaid' | 'dot' | 'json' }) => {
      // `--json` alone asks for the JSON definition, as it asks every verb for JSON.
      const format = globals().json && command.getOptionValueSource('format') === 'default' ? 'json' : opts.format;
      // Loaded on demand: the other verbs' cold start does not pay for xstate/graph.
      const { renderGraph } = await import('../observe/graph.js');
      process.stdout.write(renderGraph(format));
    });
};
