/** The verbs that start, show and end one session: spawn, status, end. */
import { Option, type Command } from 'commander';
import { shellQuote } from '../model/shell.js';
import { InvalidInputError, NotFoundError, WardenError } from '../model/errors.js';
import { SPAWN_MODES } from '../model/schema.js';
import { colorsFor, explanationText, sessionDetails, sessionLine } from './format.js';
import { collectPair, examples, parseKey, printJson, withEngine, type RegisterVerb } from './shared.js';

/**
 * An unknown option after the program's first word is the program's: `spawn k3 claude --model
 * opus` forgot the `--`. Say that, rather than commander's "did you mean --mode?".
 */
function programOptionsNeedDashDash(command: Command): void {
  const unknownOption = (command as unknown as { unknownOption(flag: string): void }).unknownOption.bind(command);
  Object.assign(command, {
    unknownOption(flag: string): void {
      // command.args: the operands (key, program, …) then everything from the first unknown option.
      const at = command.args.indexOf(flag);
      if (at < 2) return unknownOption(flag);
      const [key, ...program] = command.args;
      const shown = at + 2 < command.args.length ? [...command.args.slice(1, at + 1), '…'] : program;
      const line = `warden spawn ${shellQuote([key!])} -- ${shellQuote(shown).replace(/'…'$/, '…')}`;
      command.error(`error: unknown option '${flag}': if it is ${shellQuote([program[0]!])}'s, put -- before the command: ${line}`, {
        code: 'commander.unknownOption',
      });
    },
  });
}

export const registerSpawn: RegisterVerb = (program, globals) => {
  const spawn = program
    .command('spawn')
    .description('start, resume or restart the session of KEY')
    .argument('<key>', 'the session key (A-Z a-z 0-9 _ -)', parseKey)
    .argument('[command...]', 'the program and its arguments, after --; {sessionId} and {key} are substituted')
    .addOption(
      new Option('--mode <mode>', 'normal: start (refused if KEY is live) · resume: attach or relaunch · fresh: end and restart')
        .choices(SPAWN_MODES)
        .default('normal'),
    )
    .option('--cwd <dir>', 'working directory of the program (relative to here)')
    .option('--env <K=V>', 'environment variable for the program (repeatable)', collectPair('--env'))
    .option('--label <K=V>', 'label stored with the session, e.g. ticket=T-12 (repeatable)', collectPair('--label'))
    .option('--group <name>', 'tmux session that holds the window (default warden; a resumed session keeps its own)')
    .option('--resume-command <cmd>', 'command used to relaunch an orphaned or exited session; {sessionId} and {key} are substituted')
    .option('--profile <name>', 'activity profile (claude, codex, aider, opencode, gemini, shell, or one of the config file); chosen from the command by default')
    .option('--worktree [branch]', 'run in a git worktree of its own, <repo>/.worktrees/KEY, on a new branch (default warden/KEY) or the worktree already there for BRANCH')
    .option('--repo <dir>', 'the repository of --worktree (default: the current directory)')
    .option('--base <ref>', 'what the new branch of --worktree starts from (default: the repository HEAD)')
    .addHelpText(
      'after',
      examples(
        'warden spawn api-fix --cwd ~/src/api --label ticket=T-12 -- claude --session-id {sessionId}',
        "warden spawn api-fix --mode resume --resume-command 'claude --resume {sessionId}'",
        'warden spawn api-fix --mode fresh',
        'warden spawn api-fix --worktree --repo ~/src/api --base main -- claude',
      ),
    )
    .action(async (key: string, command: string[], opts) => {
      const g = globals();
      if ((opts.repo !== undefined || opts.base !== undefined) && opts.worktree === undefined) {
        throw new InvalidInputError(`--repo and --base go with --worktree: add --worktree (or --worktree BRANCH)`);
      }
      const worktree =
        opts.worktree === undefined
          ? undefined
          : { branch: typeof opts.worktree === 'string' ? opts.worktree : null, repo: opts.repo, base: opts.base ?? null };
      const info = await withEngine(g, (engine) =>
        engine.spawn(key, {
          mode: opts.mode,
          command,
          cwd: opts.cwd,
          env: opts.env,
          labels: opts.label,
          group: opts.group,
          resumeCommand: opts.resumeCommand,
          profile: opts.profile,
          worktree,
        }),
      );
      if (g.json) printJson(info);
      else process.stdout.write(sessionLine(info, colorsFor(process.stdout)));
    });
  programOptionsNeedDashDash(spawn);
};

export const registerStatus: RegisterVerb = (program, globals) => {
  program
    .command('status')
    .description('one session, after a reconcile with tmux')
    .argument('<key>', 'the session key', parseKey)
    .option('--explain', 'say how its activity was decided: which source, when, and what it saw')
    .addHelpText('after', examples('warden status api-fix', 'warden status api-fix --explain', "warden status api-fix --json | jq -r .activity"))
    .action(async (key: string, opts: { explain?: boolean }) => {
      const g = globals();
      const info = await withEngine(g, async (engine) => {
        const found = engine.get(key);
        const problem = engine.snapshotProblems().find((p) => p.key === key);
        if (problem) {
          throw new WardenError('SNAPSHOT_INVALID', `${key} cannot be loaded (${problem.message}): run 'warden doctor'`);
        }
        if (!found) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
        return { found, explanation: opts.explain ? engine.explainActivity(key) : null };
      }, { activity: true });
      if (g.json) return printJson(opts.explain ? { ...info.found, explain: info.explanation } : info.found);
      const c = colorsFor(process.stdout);
      process.stdout.write(sessionDetails(info.found, c));
      if (info.explanation) process.stdout.write(explanationText(info.explanation, c));
      if (info.found.exitStatus !== null && info.found.logFile) process.stdout.write(await lastOutput(info.found.logFile));
    });
};

/** An exited session's last lines, from its log: why it stopped is usually there. */
async function lastOutput(logFile: string): Promise<string> {
  const { logExists, viewLog } = await import('../logs/view.js');
  if (!(await logExists(logFile))) return '';
  const lines = (await viewLog(logFile, { lines: STATUS_OUTPUT_LINES })).trimEnd();
  return lines ? `\nlast output:\n${lines.replace(/^/gm, '  ')}\n` : '';
}

/** How many of an exited session's last lines `status` shows. */
const STATUS_OUTPUT_LINES = 10;

export const registerEnd: RegisterVerb = (program, globals) => {
  program
    .command('end')
    .description('end a session: kill only the window it created, then remove the worktree it made if nothing in it is unsaved; remove the record, keep history')
    .argument('<key>', 'the session key', parseKey)
    .option('--discard', 'remove the worktree warden made even with uncommitted changes (a branch with commits nobody else has is still kept)')
    .option('--keep-worktree', 'never remove the worktree')
    .addHelpText(
      'after',
      examples('warden end api-fix', 'warden end api-fix --json', 'warden end api-fix --keep-worktree') +
        '\n\nExit 3: the session ended but its worktree holds uncommitted or unpushed work, so it was kept (the message says what is in it).',
    )
    .action(async (key: string, opts: { discard?: boolean; keepWorktree?: boolean }) => {
      const g = globals();
      if (opts.discard && opts.keepWorktree) throw new InvalidInputError('--discard and --keep-worktree contradict each other: give one');
      const worktree = opts.discard ? 'discard' : opts.keepWorktree ? 'keep' : 'guarded';
      const { info, note } = await withEngine(g, async (engine) => {
        const ended = await engine.end(key, { worktree });
        // What became of the worktree is in the history entry the end just wrote.
        const removal = ended.worktree ? (await engine.history(key)).at(-1)?.worktree?.removal : null;
        return { info: ended, note: removal?.kept ?? null };
      });
      if (note) process.stderr.write(`warden: ${note}\n`);
      if (g.json) printJson(info);
      else process.stdout.write(`${info.key}: ended (session ${info.sessionId})\n`);
    });
};
