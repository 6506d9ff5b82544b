/** The verbs that start, show and end one session: spawn, status, end. */
import { Option, type Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import type { Engine, RestartPolicyInput } from '../engine.js';
import { InvalidInputError, NotFoundError, WardenError, toErrorData } from '../model/errors.js';
import { RESTART_POLICIES, SPAWN_MODES, type SessionInfo, type WorktreeDisposal } from '../model/schema.js';
import { shellQuote } from '../model/shell.js';
import { colorsFor, explanationText, sessionDetails, sessionLine } from './format.js';
import { cliConfig, collectPair, examples, parseCount, parseKey, printJson, withEngine, type RegisterVerb } from './shared.js';

/** The restart policy the options give, or undefined when none of them is given (the stored one is kept). */
function restartOption(opts: { restart?: RestartPolicyInput['policy']; maxRestarts?: number; restartBackoff?: number }): RestartPolicyInput | undefined {
  if (opts.restart === undefined && opts.maxRestarts === undefined && opts.restartBackoff === undefined) return undefined;
  if (opts.restart === undefined) throw new InvalidInputError('--max-restarts and --restart-backoff need --restart on-failure or --restart always');
  return {
    policy: opts.restart,
    ...(opts.maxRestarts !== undefined ? { maxRestarts: opts.maxRestarts } : {}),
    ...(opts.restartBackoff !== undefined ? { backoffMs: opts.restartBackoff } : {}),
  };
}

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

/** A commander parser for a repeatable option: each value appended (checked by the engine). */
const collectName = (value: string, previous: string[] = []): string[] => [...previous, value];

export const registerSpawn: RegisterVerb = (program, globals) => {
  const spawn = program
    .command('spawn')
    .description('start, resume or restart the session of KEY')
    .argument('<key>', 'the session key (A-Z a-z 0-9 _ -)', parseKey)
    .argument('[command...]', 'the program and its arguments, after --; {sessionId} and {key} are substituted')
    .addOption(
      new Option(
        '--mode <mode>',
        'normal: start (refused if KEY has a session) · ensure: start, resume or leave running · resume: relaunch an exited or orphaned one · fresh: end and restart',
      )
        .choices(SPAWN_MODES)
        .default('normal'),
    )
    .option('--cwd <dir>', 'working directory of the program (relative to here)')
    .option('--env <K=V>', 'environment variable for the program, stored with the session (repeatable)', collectPair('--env'))
    .option('--pass-env <NAME>', "variable passed from the launching process's environment at each launch; only the name is stored (repeatable)", collectName)
    .option('--label <K=V>', 'label stored with the session, e.g. ticket=T-12 (repeatable)', collectPair('--label'))
    .option('--group <name>', 'tmux session that holds the window (default warden; a resumed session keeps its own)')
    .option('--resume-command <cmd>', "command used to relaunch an orphaned or exited session; {sessionId} and {key} are substituted; '' clears it")
    .addOption(new Option('--restart <policy>', 'restart the program by itself when it exits').choices(RESTART_POLICIES))
    .option('--max-restarts <n>', 'restarts in a row before giving up (default 5)', parseCount('--max-restarts'))
    .option('--restart-backoff <ms>', 'wait before the first restart, doubled each time (default 1000)', parseCount('--restart-backoff'))
    .option('--profile <name>', 'activity profile (claude, codex, aider, opencode, gemini, shell, or one of the config file); chosen from the command by default')
    .option('--worktree [branch]', 'run in a git worktree of its own, <repo>/.worktrees/KEY, on a new branch (default warden/KEY) or the worktree already there for BRANCH')
    .option('--repo <dir>', 'the repository of --worktree (default: the current directory)')
    .option('--base <ref>', 'what the new branch of --worktree starts from (default: the repository HEAD)')
    .addHelpText(
      'after',
      examples(
        'warden spawn api-fix --cwd ~/src/api --label ticket=T-12 -- claude --session-id {sessionId}',
        "warden spawn api-fix --mode resume --resume-command 'claude --resume {sessionId}'",
        'warden spawn api-fix --mode ensure -- claude --session-id {sessionId}',
        'warden spawn worker --restart on-failure --max-restarts 3 -- ./worker.sh',
        'warden spawn api-fix --mode fresh',
        'warden spawn api-fix --pass-env ANTHROPIC_API_KEY -- claude',
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
      // A new session names no restart policy: the config's default, if any (other modes keep the stored one).
      const restart = restartOption(opts) ?? (opts.mode === 'normal' ? (await cliConfig(g))?.config.defaults?.restart : undefined);
      const info = await withEngine(g, (engine) =>
        engine.spawn(key, {
          mode: opts.mode,
          command,
          cwd: opts.cwd,
          env: opts.env,
          passEnv: opts.passEnv,
          labels: opts.label,
          group: opts.group,
          resumeCommand: opts.resumeCommand,
          restart: restart ?? undefined,
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
    .description(
      'end sessions: kill only the windows they created, then remove the worktrees they made if nothing in them is unsaved; remove the records, keep history',
    )
    .argument('[keys...]', 'the session keys', (value: string, previous: string[] = []) => [...previous, parseKey(value)])
    .option('--label <K=V>', 'every session carrying this label (repeatable: all must match)', collectPair('--label'))
    .option('--all', 'every session')
    .option('-y, --yes', 'do not ask on a terminal before ending several sessions')
    .option('--discard', 'remove the worktree warden made even with uncommitted changes (a branch with commits nobody else has is still kept)')
    .option('--keep-worktree', 'never remove the worktree')
    .addHelpText(
      'after',
      examples('warden end api-fix', 'warden end api-fix reviewer --json', 'warden end --label ticket=T-12', 'warden end --all --yes', 'warden end api-fix --keep-worktree') +
        '\n\nExit 3: a session ended but its worktree holds uncommitted or unpushed work, so it was kept (the message says what is in it).',
    )
    .action(async (keys: string[] = [], opts: { label?: Record<string, string>; all?: boolean; yes?: boolean; discard?: boolean; keepWorktree?: boolean }) => {
      const g = globals();
      const ways = [keys.length > 0, opts.label !== undefined, opts.all === true].filter(Boolean).length;
      if (ways !== 1) throw new InvalidInputError('end takes KEY…, --label K=V or --all (one of them): see warden end --help');
      if (opts.discard && opts.keepWorktree) throw new InvalidInputError('--discard and --keep-worktree contradict each other: give one');
      const worktree: WorktreeDisposal = opts.discard ? 'discard' : opts.keepWorktree ? 'keep' : 'guarded';
      if (keys.length === 1) {
        const { info, note } = await withEngine(g, async (engine) => {
          const ended = await engine.end(keys[0]!, { worktree });
          // What became of the worktree is in the history entry the end just wrote.
          const removal = ended.worktree ? (await engine.history(keys[0]!)).at(-1)?.worktree?.removal : null;
          return { info: ended, note: removal?.kept ?? null };
        });
        if (note) process.stderr.write(`warden: ${note}\n`);
        if (g.json) printJson(info);
        else process.stdout.write(`${info.key}: ended (session ${info.sessionId})\n`);
        return;
      }
      const result = await withEngine(g, async (engine) => {
        const chosen = keys.length > 0 ? keys : engine.list({ labels: opts.label }).map((info) => info.key);
        if (chosen.length > 0 && !opts.yes && !(await confirmed(`end ${chosen.length} session${chosen.length === 1 ? '' : 's'} (${chosen.join(', ')})?`))) {
          return null;
        }
        return endEach(engine, chosen, worktree);
      });
      if (result === null) {
        process.stderr.write('warden: nothing ended\n');
        return;
      }
      if (g.json) printJson({ sessions: result.sessions, failed: result.failed.map(({ key, error }) => ({ key, error: toErrorData(error) })) });
      else {
        for (const info of result.sessions) process.stdout.write(`${info.key}: ended (session ${info.sessionId})\n`);
        if (result.sessions.length === 0 && result.failed.length === 0) process.stdout.write('no session to end\n');
      }
      const first = result.failed[0];
      if (first) {
        const what = result.failed.map(({ key, error }) => `${key} (${error.message})`).join(', ');
        throw new WardenError(first.error instanceof WardenError ? first.error.code : 'TMUX_FAILED', `could not end ${what}`);
      }
    });
};

/** Ends each key in turn; one that fails is reported and the others still end. */
async function endEach(
  engine: Engine,
  keys: string[],
  worktree: WorktreeDisposal,
): Promise<{ sessions: SessionInfo[]; failed: { key: string; error: Error }[] }> {
  const result: { sessions: SessionInfo[]; failed: { key: string; error: Error }[] } = { sessions: [], failed: [] };
  for (const key of keys) {
    try {
      result.sessions.push(await engine.end(key, { worktree }));
    } catch (err) {
      result.failed.push({ key, error: err as Error });
    }
  }
  return result;
}

/** Asks `question` on a terminal; elsewhere (a script, a pipe) the answer is yes. */
async function confirmed(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
