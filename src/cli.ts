#!/usr/bin/env node
/**
 * The `warden` command. Each verb lives in `src/cli/` and registers itself here; this file only
 * builds the program and maps errors to one line on stderr and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { WardenError } from './model/errors.js';
import { registerSignal, registerWait } from './cli/activity-verbs.js';
import { registerCompletion } from './cli/completion.js';
import { registerDoctor } from './cli/doctor.js';
import { registerGc, registerHistory, registerLs } from './cli/list-verbs.js';
import { registerLogs } from './cli/logs.js';
import { registerAttach, registerSend } from './cli/pane-verbs.js';
import { registerEnd, registerSpawn, registerStatus } from './cli/session-verbs.js';
import { registerDown, registerUp } from './cli/fleet.js';
import { registerGraph } from './cli/graph.js';
import { registerInspect } from './cli/inspect.js';
import { registerService } from './cli/service.js';
import { printError, useJsonErrors, wantsJson } from './cli/output.js';
import type { GlobalOptions, RegisterVerb } from './cli/shared.js';
import { registerUi } from './cli/ui.js';
import { registerWatch } from './cli/watch.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const VERBS: RegisterVerb[] = [
  registerSpawn,
  registerLs,
  registerStatus,
  registerEnd,
  registerUp,
  registerDown,
  registerAttach,
  registerSend,
  registerSignal,
  registerWait,
  registerLogs,
  registerGc,
  registerWatch,
  registerHistory,
  registerDoctor,
  registerCompletion,
  registerGraph,
  registerInspect,
  registerService,
  registerUi,
];

/**
 * Commander's usage errors as one line naming the fix: `warden: <what> (see 'warden spawn --help')`.
 * Its messages start with `error: `; the help hint replaces the full usage it would print.
 */
function oneLineErrors(command: Command): void {
  const path = command.parent ? `${command.parent.name()} ${command.name()}` : command.name();
  command.configureOutput({
    outputError: (message) => {
      // One line, whatever commander adds ("(Did you mean --json?)" comes on a line of its own).
      const what = message.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      printError('INVALID_INPUT', `${what} (see '${path} --help')`);
    },
  });
}

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Run long-lived terminal sessions in tmux and always know their true state.')
    .version(version, '-V, --version')
    .option('--state <file>', 'state file (env WARDEN_STATE)')
    .option('--socket <name>', 'tmux socket name, as tmux -L (env WARDEN_TMUX_SOCKET)')
    .option('--config <file>', 'config file: hooks, profiles, defaults (env WARDEN_CONFIG; default $XDG_CONFIG_HOME/tmux-warden/config.yaml)')
    .option('--json', 'print JSON for scripts')
    .option('--inspect-log <file>', 'append the XState inspection events of this run to FILE (JSONL, for inspect --replay)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok · 1 runtime error · 2 bad usage or input · 3 conflict · 4 no such session\n' +
        "Every verb has --help with an example: 'warden spawn --help'.",
    )
    // Every verb's --help shows --json, --state and --socket too: they are used on every verb.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  for (const register of VERBS) register(program, globals);
  const withSubcommands = (command: Command): Command[] => [command, ...command.commands.flatMap(withSubcommands)];
  for (const command of withSubcommands(program)) oneLineErrors(command);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  useJsonErrors(wantsJson(argv.slice(2)));
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // A verb that completed but has a verdict to give (doctor: problems found) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; commander has already printed its one-line usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof WardenError) {
      printError(err.code, err.message);
      return err.exitCode;
    }
    printError('INTERNAL', err instanceof Error ? err.message : String(err));
    return 1;
  }
}

// The reader went away (`warden ls | head -1`, `warden watch | grep -m1 …`): stop quietly, as
// SIGTERM would (watch closes its engine first), rather than dying on a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  if (process.listenerCount('SIGTERM') > 0) process.kill(process.pid, 'SIGTERM');
  else process.exit(0);
});

void main(process.argv).then((code) => {
  process.exitCode = code;
});
