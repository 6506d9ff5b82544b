#!/usr/bin/env node
/**
 * The `warden` command: parses arguments, calls the engine, prints. No logic of its own.
 */
import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { createEngine, type Engine, type EngineOptions } from './engine.js';
import { WardenError, InvalidInputError } from './errors.js';
import type { SessionInfo } from './schema.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

interface GlobalOptions {
  state?: string;
  socket?: string;
  json?: boolean;
}

function engineOptions(globals: GlobalOptions): EngineOptions {
  return {
    stateFile: globals.state ?? process.env.WARDEN_STATE ?? undefined,
    socket: globals.socket ?? process.env.WARDEN_TMUX_SOCKET ?? undefined,
  };
}

async function withEngine<T>(globals: GlobalOptions, body: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await createEngine(engineOptions(globals));
  try {
    return await body(engine);
  } finally {
    await engine.close();
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function describe(info: SessionInfo): string {
  const state = info.exitStatus !== null && info.state === 'active' ? `active (exited ${info.exitStatus})` : info.state;
  const where = info.windowId ? ` window ${info.windowId}` : '';
  const pid = info.pid !== null ? ` pid ${info.pid}` : '';
  return `${info.key}: ${state}${where}${pid}  ${info.command.join(' ')}`;
}

function printTable(sessions: SessionInfo[]): void {
  if (sessions.length === 0) {
    process.stdout.write("no sessions: start one with 'warden spawn KEY -- CMD'\n");
    return;
  }
  const rows = [
    ['KEY', 'STATE', 'WINDOW', 'PID', 'EXIT', 'COMMAND'],
    ...sessions.map((s) => [
      s.key,
      s.state,
      s.windowId ?? '-',
      s.pid === null ? '-' : String(s.pid),
      s.exitStatus === null ? '-' : String(s.exitStatus),
      s.command.join(' '),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) {
    process.stdout.write(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
  }
}

function collectPair(flag: string) {
  return (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const at = value.indexOf('=');
    if (at <= 0) throw new InvalidInputError(`${flag} ${JSON.stringify(value)} is not K=V: write it as ${flag} NAME=value`);
    return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
  };
}

export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Run long-lived terminal sessions in tmux and always know their true state.')
    .version(version, '-V, --version')
    .option('--state <file>', 'state file (env WARDEN_STATE)')
    .option('--socket <name>', 'tmux socket name, as tmux -L (env WARDEN_TMUX_SOCKET)')
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError()
    .exitOverride();

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('spawn')
    .description('start, resume or restart the session of KEY')
    .argument('<key>', 'the session key (A-Z a-z 0-9 _ -)')
    .argument('[command...]', 'the program and its arguments, after --')
    .addOption(new Option('--mode <mode>', 'normal | resume | fresh').choices(['normal', 'resume', 'fresh']).default('normal'))
    .option('--cwd <dir>', 'working directory of the program')
    .option('--env <K=V>', 'environment variable for the program (repeatable)', collectPair('--env'))
    .option('--label <K=V>', 'label stored with the session (repeatable)', collectPair('--label'))
    .option('--group <name>', 'tmux session that holds the window (default warden)')
    .option('--resume-command <cmd>', 'command used to resume; {sessionId} and {key} are substituted')
    .addHelpText('after', '\nExample:\n  warden spawn api-fix --cwd ~/src/api -- claude --session-id {sessionId}')
    .action(async (key: string, command: string[], opts) => {
      const g = globals();
      const info = await withEngine(g, (engine) =>
        engine.spawn(key, {
          mode: opts.mode,
          command,
          cwd: opts.cwd,
          env: opts.env,
          labels: opts.label,
          group: opts.group,
          resumeCommand: opts.resumeCommand,
        }),
      );
      if (g.json) printJson(info);
      else process.stdout.write(`${describe(info)}\n`);
    });

  program
    .command('ls')
    .description('list every session, after one reconcile with tmux')
    .addHelpText('after', '\nExample:\n  warden ls --json | jq \'.sessions[] | select(.state == "orphaned")\'')
    .action(async () => {
      const g = globals();
      const sessions = await withEngine(g, async (engine) => {
        await engine.reconcile();
        return engine.list();
      });
      if (g.json) printJson({ sessions });
      else printTable(sessions);
    });

  program
    .command('status')
    .description('one session, after a reconcile')
    .argument('<key>')
    .addHelpText('after', '\nExample:\n  warden status api-fix --json')
    .action(async (key: string) => {
      const g = globals();
      const info = await withEngine(g, async (engine) => {
        await engine.reconcile();
        const found = engine.get(key);
        if (!found) throw new WardenError('NOT_FOUND', `no session ${key}: 'warden ls' lists them`);
        return found;
      });
      if (g.json) printJson(info);
      else process.stdout.write(`${describe(info)}\n`);
    });

  program
    .command('end')
    .description('end a session: kill only the window it created, remove the record, keep history')
    .argument('<key>')
    .addHelpText('after', '\nExample:\n  warden end api-fix')
    .action(async (key: string) => {
      const g = globals();
      const info = await withEngine(g, (engine) => engine.end(key));
      if (g.json) printJson(info);
      else process.stdout.write(`${info.key}: ended (session ${info.sessionId})\n`);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exits with code 0; commander already printed its usage error.
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
