/** The verbs about many sessions: ls, gc, history. */
import { describeContents, strayWorktrees } from '../engine/workspaces.js';
import { WardenError } from '../model/errors.js';
import { warn } from './output.js';
import { colorsFor, historyTable, sessionTable } from './format.js';
import { collectPair, examples, parseKey, printJson, reportLookalikes, withEngine, type RegisterVerb } from './shared.js';

export const registerLs: RegisterVerb = (program, globals) => {
  program
    .command('ls')
    .description('list every session, after one reconcile with tmux')
    .option('--label <K=V>', 'only sessions carrying this label (repeatable: all must match)', collectPair('--label'))
    .addHelpText(
      'after',
      examples('warden ls', 'warden ls --label ticket=T-12 --json', "warden ls --json | jq -r '.sessions[] | select(.state == \"orphaned\") | .key'"),
    )
    .action(async (opts: { label?: Record<string, string> }) => {
      const g = globals();
      // withEngine reconciles once first: the list is what tmux shows now.
      const { sessions, confirmed } = await withEngine(g, async (engine, probe) => {
        reportLookalikes(probe);
        const unloadable = engine.snapshotProblems().map((p) => p.key);
        if (unloadable.length > 0) {
          warn('SNAPSHOT_INVALID', `not listed, cannot be loaded: ${unloadable.join(', ')}: run 'warden doctor'`);
        }
        return { sessions: engine.list({ labels: opts.label }), confirmed: probe?.probe !== 'unknown' };
      }, { activity: true });
      // tmux did not answer: the states are the last recorded ones, marked as not confirmed.
      if (g.json) printJson(confirmed ? { sessions } : { sessions, confirmed });
      // The hint is for people and goes to stderr: an empty list prints nothing on stdout.
      else if (sessions.length === 0) {
        process.stderr.write(
          opts.label ? 'warden: no session carries those labels\n' : "warden: no sessions: start one with 'warden spawn KEY -- CMD'\n",
        );
      } else process.stdout.write(sessionTable(sessions, colorsFor(process.stdout), Date.now(), undefined, confirmed));
    });
};

export const registerGc: RegisterVerb = (program, globals) => {
  program
    .command('gc')
    .description('end every orphaned session (its window is gone); --dry-run only lists them')
    .option('--dry-run', 'list the orphaned sessions, end nothing')
    .addHelpText('after', examples('warden gc --dry-run', 'warden gc --json'))
    .action(async (opts: { dryRun?: boolean }) => {
      const g = globals();
      const { result, keptWorktrees } = await withEngine(
        g,
        async (engine) => {
          const result = await engine.gc({ dryRun: opts.dryRun === true });
          // Worktrees an end kept because they hold work, or that a crash left: reported, never removed here.
          return { result, keptWorktrees: await strayWorktrees(engine.workspaces, await engine.store.load()) };
        },
        { reconcile: false },
      );
      if (g.json) printJson({ dryRun: opts.dryRun === true, ...result, keptWorktrees });
      else {
        const verb = opts.dryRun ? 'would end' : 'ended';
        for (const info of result.sessions) process.stdout.write(`${verb} ${info.key} (session ${info.sessionId})\n`);
        if (result.sessions.length === 0 && result.failed.length === 0) process.stdout.write('no orphaned sessions\n');
        if (result.logsRemoved.length > 0) process.stdout.write(`removed the logs of ${result.logsRemoved.length} ended sessions (retention)\n`);
        for (const w of keptWorktrees) {
          const work = describeContents(w.contents) ?? 'nothing unsaved';
          process.stdout.write(`kept worktree ${w.path} (branch ${w.branch ?? 'detached'}${w.key ? `, session ${w.key}` : ''}): ${work}\n`);
        }
      }
      if (result.failed.length > 0) {
        const what = result.failed.map(({ key, error }) => `${key} (${error.message})`).join(', ');
        throw new WardenError('TMUX_FAILED', `could not end ${what}: run 'warden gc' again`);
      }
    });
};

export const registerHistory: RegisterVerb = (program, globals) => {
  program
    .command('history')
    .description('ended sessions, oldest first (all keys, or only KEY)')
    .argument('[key]', 'only the sessions of this key', parseKey)
    .addHelpText('after', examples('warden history', 'warden history api-fix --json'))
    .action(async (key: string | undefined) => {
      const g = globals();
      const history = await withEngine(g, (engine) => engine.history(key), { reconcile: false });
      if (g.json) printJson({ history });
      else if (history.length === 0) process.stderr.write(key ? `warden: no ended sessions of ${key}\n` : 'warden: no ended sessions\n');
      else process.stdout.write(historyTable(history, colorsFor(process.stdout)));
    });
};
