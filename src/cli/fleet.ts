/** The verbs that make tmux match a sessions file: up, down. */
import type { Command } from 'commander';
import { DEFAULT_GROUP, type Engine } from '../engine.js';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { applyPlan, currentSessions, locateSessionsFile, planDown, planUp, readSessionsFile, type Fleet, type FleetStep, type StepResult } from '../fleet/index.js';
import { colorsFor } from './format.js';
import { cliConfig, examples, parseKey, printJson, reportLookalikes, withEngine, type GlobalOptions, type RegisterVerb } from './shared.js';

interface FleetOptions {
  file?: string;
  dryRun?: boolean;
  prune?: boolean;
}

/** The sessions file, validated before any engine is opened (bad input writes nothing). */
async function readFleet(globals: GlobalOptions, opts: FleetOptions): Promise<Fleet> {
  const defaults = (await cliConfig(globals))?.config.defaults;
  const fleet = await readSessionsFile(locateSessionsFile(opts.file), { group: defaults?.group ?? DEFAULT_GROUP });
  // The config's default restart policy, for the sessions that name none.
  const restart = defaults?.restart?.policy === 'no' ? undefined : defaults?.restart;
  if (restart) for (const session of fleet.sessions) session.spec.restart ??= restart;
  return fleet;
}

/** Keys named on the command line that are neither in the file nor (for `--prune`) started from it. */
function checkKeys(fleet: Fleet, keys: string[], engine: Engine | null, prune: boolean): void {
  const named = new Set(fleet.sessions.map((s) => s.key));
  const unknown = keys.filter((key) => !named.has(key) && !(prune && engine?.get(key)));
  if (unknown.length) throw new InvalidInputError(`${unknown.join(', ')} not in ${fleet.file}: name sessions the file holds`);
}

const VERB: Record<FleetStep['action'], string> = { start: 'start', resume: 'resume', restart: 'restart', leave: 'leave', end: 'end' };

function planLines(steps: readonly FleetStep[], results: readonly StepResult[] | null): string {
  const c = colorsFor(process.stdout);
  if (steps.length === 0) return 'nothing to do\n';
  const width = Math.max(...steps.map((s) => s.key.length));
  return steps
    .map((step, i) => {
      const failed = results?.[i]?.error;
      const verb = VERB[step.action].padEnd(7);
      const painted = step.action === 'leave' ? c.dim(verb) : step.action === 'end' || step.action === 'restart' ? c.yellow(verb) : c.green(verb);
      const outcome = failed ? `  ${c.red(`failed: ${failed.message}`)}` : '';
      return `${painted}  ${c.bold(step.key.padEnd(width))}  ${c.dim(`(${step.reason})`)}${outcome}`;
    })
    .join('\n')
    .concat('\n');
}

/** Prints the plan (and what came of it) and fails with exit 1 when a step failed. */
function report(globals: GlobalOptions, fleet: Fleet, steps: FleetStep[], results: StepResult[] | null, verb: string): void {
  if (globals.json) {
    printJson({
      file: fleet.file,
      dryRun: results === null,
      plan: steps.map((step, i) => ({ ...step, error: results?.[i]?.error ?? null, session: results?.[i]?.session ?? null })),
    });
  } else process.stdout.write(planLines(steps, results));
  const failed = (results ?? []).filter((r) => r.error);
  if (failed.length) {
    throw new WardenError('TMUX_FAILED', `${verb}: ${failed.map((r) => `${r.step.key} (${r.error!.message})`).join(', ')}: run 'warden ${verb}' again`);
  }
}

/** `up` and `down` take the same file, keys and --dry-run. */
function fleetVerb(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .argument('[keys...]', 'only these sessions of the file', (value: string, previous: string[] = []) => [...previous, parseKey(value)])
    .option('-f, --file <file>', 'the sessions file (default: warden.yaml, warden.yml or warden.json here)')
    .option('--dry-run', 'print the plan, change nothing');
}

export const registerUp: RegisterVerb = (program, globals) => {
  fleetVerb(program, 'up', 'make tmux match a sessions file: start, resume or restart what it names (warden.yaml by default)')
    .option('--prune', 'also end sessions started from this file that it no longer names')
    .addHelpText('after', examples('warden up', 'warden up --dry-run', 'warden up -f ~/agents.yaml api-fix', 'warden up --prune --json'))
    .action(async (keys: string[] = [], opts: FleetOptions) => {
      const g = globals();
      const fleet = await readFleet(g, opts);
      await withEngine(g, async (engine, probe) => {
        reportLookalikes(probe);
        checkKeys(fleet, keys, engine, opts.prune === true);
        const steps = planUp(fleet.file, fleet.sessions, currentSessions(engine), { keys, prune: opts.prune === true });
        const work = steps.filter((s) => s.action !== 'leave');
        const results = opts.dryRun ? null : await applyPlan(engine, steps, fleet.sessions);
        report(g, fleet, steps, results, 'up');
        if (!g.json && results && work.length === 0) process.stdout.write('everything matches the file\n');
      });
    });
};

export const registerDown: RegisterVerb = (program, globals) => {
  fleetVerb(program, 'down', 'end the sessions a sessions file names (warden.yaml by default); others are never touched')
    .addHelpText('after', examples('warden down', 'warden down -f ~/agents.yaml api-fix --json'))
    .action(async (keys: string[] = [], opts: FleetOptions) => {
      const g = globals();
      const fleet = await readFleet(g, opts);
      checkKeys(fleet, keys, null, false);
      await withEngine(g, async (engine) => {
        const steps = planDown(fleet.sessions, currentSessions(engine), keys);
        const results = opts.dryRun ? null : await applyPlan(engine, steps, fleet.sessions);
        report(g, fleet, steps, results, 'down');
      });
    });
};
