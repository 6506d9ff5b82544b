/**
 * `warden completion bash|zsh|fish`: shell completion generated from the commander program itself,
 * so a verb or option added to the CLI is completed without anyone editing a list. Session keys
 * come from the hidden `__keys` verb, which reads the state file and nothing else: no tmux, no
 * lock, no engine.
 */
import { Argument } from 'commander';
import { readFile } from 'node:fs/promises';
import { KEY_PATTERN } from '../model/schema.js';
import { defaultStatePath } from '../store/paths.js';
import { bashCompletion } from './completion/bash.js';
import { fishCompletion } from './completion/fish.js';
import { KEYS_VERB } from './completion/spec.js';
import { zshCompletion } from './completion/zsh.js';
import { engineOptions, examples, type RegisterVerb } from './shared.js';

export { bashCompletion, fishCompletion, zshCompletion };

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/**
 * The keys `verb` may be given, one per line: those with a session, and for `history` the ended
 * ones too. Whatever cannot be read or parsed completes nothing: completion never complains.
 */
export async function completionKeys(stateFile: string, verb: string | undefined): Promise<string[]> {
  let document: { sessions?: unknown; history?: unknown };
  try {
    document = JSON.parse(await readFile(stateFile, 'utf8')) as typeof document;
  } catch {
    return [];
  }
  const keys = new Set<string>();
  if (document && typeof document.sessions === 'object' && document.sessions !== null) {
    for (const key of Object.keys(document.sessions)) keys.add(key);
  }
  if (verb === 'history' && Array.isArray(document.history)) {
    for (const entry of document.history as { key?: unknown }[]) if (typeof entry?.key === 'string') keys.add(entry.key);
  }
  // Only what is a key: nothing from a hand-edited file reaches the shell as anything else.
  return [...keys].filter((key) => KEY_PATTERN.test(key)).sort();
}

export const registerCompletion: RegisterVerb = (program, globals) => {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      examples(
        'source <(warden completion bash)    # in ~/.bashrc',
        'source <(warden completion zsh)     # in ~/.zshrc, after compinit',
        'warden completion fish > ~/.config/fish/completions/warden.fish',
      ),
    )
    .action((shell: (typeof SHELLS)[number]) => {
      const generate = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      process.stdout.write(generate(program));
    });
  program
    .command(KEYS_VERB, { hidden: true })
    .description('the session keys VERB completes, one per line (used by the completion scripts)')
    .argument('[verb]')
    .action(async (verb: string | undefined) => {
      const stateFile = engineOptions(globals()).stateFile ?? defaultStatePath();
      const keys = await completionKeys(stateFile, verb);
      if (keys.length > 0) process.stdout.write(`${keys.join('\n')}\n`);
    });
};
