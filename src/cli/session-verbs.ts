/** The verbs that start, show and end one session: spawn, status, end. */
import { Option } from 'commander';
import { InvalidInputError, NotFoundError, WardenError } from '../model/errors.js';
import { RESTART_POLICIES, SPAWN_MODES } from '../model/schema.js';
import type { RestartPolicyInput } from '../engine.js';
import { colorsFor, sessionDetails, sessionLine } from './format.js';
import { collectPair, examples, parseCount, parseKey, printJson, withEngine, type RegisterVerb } from './shared.js';

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

export const registerSpawn: RegisterVerb = (program, globals) => {
  program
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
    .option('--env <K=V>', 'environment variable for the program (repeatable)', collectPair('--env'))
    .option('--label <K=V>', 'label stored with the session, e.g. ticket=T-12 (repeatable)', collectPair('--label'))
    .option('--group <name>', 'tmux session that holds the window (default warden; a resumed session keeps its own)')
    .option('--resume-command <cmd>', "command used to relaunch an orphaned or exited session; {sessionId} and {key} are substituted; '' clears it")
    .addOption(new Option('--restart <policy>', 'restart the program by itself when it exits').choices(RESTART_POLICIES))
    .option('--max-restarts <n>', 'restarts in a row before giving up (default 5)', parseCount('--max-restarts'))
    .option('--restart-backoff <ms>', 'wait before the first restart, doubled each time (default 1000)', parseCount('--restart-backoff'))
    .addHelpText(
      'after',
      examples(
        'warden spawn api-fix --cwd ~/src/api --label ticket=T-12 -- claude --session-id {sessionId}',
        "warden spawn api-fix --mode resume --resume-command 'claude --resume {sessionId}'",
        'warden spawn api-fix --mode ensure -- claude --session-id {sessionId}',
        'warden spawn worker --restart on-failure --max-restarts 3 -- ./worker.sh',
        'warden spawn api-fix --mode fresh',
      ),
    )
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
          restart: restartOption(opts),
        }),
      );
      if (g.json) printJson(info);
      else process.stdout.write(sessionLine(info, colorsFor(process.stdout)));
    });
};

export const registerStatus: RegisterVerb = (program, globals) => {
  program
    .command('status')
    .description('one session, after a reconcile with tmux')
    .argument('<key>', 'the session key', parseKey)
    .addHelpText('after', examples('warden status api-fix', "warden status api-fix --json | jq -r .state"))
    .action(async (key: string) => {
      const g = globals();
      const info = await withEngine(g, async (engine) => {
        const found = engine.get(key);
        const problem = engine.snapshotProblems().find((p) => p.key === key);
        if (problem) {
          throw new WardenError('SNAPSHOT_INVALID', `${key} cannot be loaded (${problem.message}): run 'warden doctor'`);
        }
        if (!found) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
        return found;
      });
      if (g.json) printJson(info);
      else process.stdout.write(sessionDetails(info, colorsFor(process.stdout)));
    });
};

export const registerEnd: RegisterVerb = (program, globals) => {
  program
    .command('end')
    .description('end a session: kill only the window it created, remove the record, keep history')
    .argument('<key>', 'the session key', parseKey)
    .addHelpText('after', examples('warden end api-fix', 'warden end api-fix --json'))
    .action(async (key: string) => {
      const g = globals();
      const info = await withEngine(g, (engine) => engine.end(key));
      if (g.json) printJson(info);
      else process.stdout.write(`${info.key}: ended (session ${info.sessionId})\n`);
    });
};
