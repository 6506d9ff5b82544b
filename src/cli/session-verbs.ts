/** The verbs that start, show and end sessions: spawn, ls, status, end. */
import { Option } from 'commander';
import { NotFoundError } from '../errors.js';
import type { SessionInfo } from '../schema.js';
import { collectPair, describeSession, printJson, withEngine, type RegisterVerb } from './shared.js';

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

export const registerSpawn: RegisterVerb = (program, globals) => {
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
      else process.stdout.write(`${describeSession(info)}\n`);
    });
};

export const registerLs: RegisterVerb = (program, globals) => {
  program
    .command('ls')
    .description('list every session, after one reconcile with tmux')
    .addHelpText('after', '\nExample:\n  warden ls --json | jq \'.sessions[] | select(.state == "orphaned")\'')
    .action(async () => {
      const g = globals();
      // Opened without its own reconcile: the one below is the only tmux call.
      const sessions = await withEngine(
        g,
        async (engine) => {
          await engine.reconcile();
          return engine.list();
        },
        { reconcileOnOpen: false },
      );
      if (g.json) printJson({ sessions });
      else printTable(sessions);
    });
};

export const registerStatus: RegisterVerb = (program, globals) => {
  program
    .command('status')
    .description('one session, after a reconcile')
    .argument('<key>')
    .addHelpText('after', '\nExample:\n  warden status api-fix --json')
    .action(async (key: string) => {
      const g = globals();
      const info = await withEngine(
        g,
        async (engine) => {
          await engine.reconcile();
          const found = engine.get(key);
          if (!found) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
          return found;
        },
        { reconcileOnOpen: false },
      );
      if (g.json) printJson(info);
      else process.stdout.write(`${describeSession(info)}\n`);
    });
};

export const registerEnd: RegisterVerb = (program, globals) => {
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
};
