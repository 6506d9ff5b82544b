#!/usr/bin/env node
/**
 * The `warden` command. Each verb lives in `src/cli/` and registers itself here; this file only
 * builds the program and maps errors to one line on stderr and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { WardenError } from './errors.js';
import { registerEnd, registerLs, registerSpawn, registerStatus } from './cli/session-verbs.js';
import type { GlobalOptions, RegisterVerb } from './cli/shared.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const VERBS: RegisterVerb[] = [
  registerSpawn,
  registerLs,
  registerStatus,
  registerEnd,
];

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Run long-lived terminal sessions in tmux and always know their true state.')
    .version(version, '-V, --version')
    .option('--state <file>', 'state file (env WARDEN_STATE)')
    .option('--socket <name>', 'tmux socket name, as tmux -L (env WARDEN_TMUX_SOCKET)')
    .option('--config <file>', 'hooks config (env WARDEN_CONFIG; default warden.config.json beside the state file)')
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  for (const register of VERBS) register(program, globals);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; commander has already printed its usage error.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof WardenError) {
      process.stderr.write(`warden: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`warden: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
