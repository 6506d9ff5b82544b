/**
 * Lifecycle hooks: shell commands a user names in `warden.config.json`, run when a session enters
 * a state. A hook hears a transition only once it is durable (it is a transition listener like any
 * other), runs after it, and can never block or undo it: a failure or a timeout is reported and the
 * next hook runs. Hooks run one at a time, in the order the transitions happened.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { InvalidInputError, StateFileError } from './model/errors.js';
import type { TransitionEvent, TransitionListener } from './engine.js';
import { SESSION_STATE_PATHS } from '../machines/paths.js';
import { ProfileSchema, ProfilesSchema } from './activity/profiles.js';
import { assertTrustedConfig } from './store/trust.js';

/** The name of the config file the CLI looks for beside the state file. */
export const CONFIG_FILE_NAME = 'warden.config.json';

/**
 * The states a hook can be attached to. A top-level state (`active`) fires when a session enters
 * it from outside (not on `active.running → active.exited`); a dotted one fires on entering exactly
 * that substate; `*` fires on every transition.
 */
export const HOOK_STATES: readonly string[] = [...SESSION_STATE_PATHS, '*'];
/** A state a hook can be attached to. */
export type HookState = string;

const DEFAULT_HOOK_TIMEOUT_MS = 10_000;
/** How much of a failing hook's stderr is kept for the report. */
const STDERR_TAIL_CHARS = 400;
/** After SIGTERM, a hook's process group gets this long before SIGKILL. */
const KILL_GRACE_MS = 1_000;

const COMMAND_SHAPE = 'a hook is a shell command string, {"run": "...", "timeoutMs": N}, or a list of them';

/** One hook: a shell command (run with `sh -c`), or the command with its own timeout. */
export const HookCommandSchema = z.union(
  [
    z.string().min(1, 'a hook command may not be empty'),
    z.strictObject({
      run: z.string().min(1, 'a hook command may not be empty'),
      timeoutMs: z.number().int().positive().max(3_600_000).optional(),
    }),
  ],
  { error: COMMAND_SHAPE },
);
/** One hook as the config file writes it. */
export type HookCommand = z.infer<typeof HookCommandSchema>;

/** The config file: `{ "hookTimeoutMs": 10000, "hooks": { "orphaned": "notify-send …" } }`. */
export const HooksConfigSchema = z.strictObject({
  /** Lets editors validate the file; ignored. */
  $schema: z.string().optional(),
  /** Timeout of every hook without its own `timeoutMs`; 10 s by default. */
  hookTimeoutMs: z.number().int().positive().max(3_600_000).default(DEFAULT_HOOK_TIMEOUT_MS),
  hooks: z
    .partialRecord(z.enum(HOOK_STATES), z.union([HookCommandSchema, z.array(HookCommandSchema)], { error: COMMAND_SHAPE }))
    .default({}),
  /** Activity profiles beside the built-in ones (docs/activity.md); one named like a built-in replaces it. */
  profiles: ProfilesSchema.default({}),
});
/** A validated config file, defaults applied. */
export type HooksConfig = z.infer<typeof HooksConfigSchema>;
/** A config as written by hand (defaults optional). */
export type HooksConfigInput = z.input<typeof HooksConfigSchema>;

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    const field = where ? `${where}.${issue.keys[0]}` : issue.keys[0];
    if (where === 'hooks') return `${field}: unknown state ${keys}: use one of ${HOOK_STATES.join(', ')}`;
    const fields = where.startsWith('profiles.') ? Object.keys(ProfileSchema.shape).join(', ') : where ? 'run, timeoutMs' : 'hookTimeoutMs, hooks, profiles';
    return `${field}: unknown field ${keys}: the fields are ${fields}`;
  }
  return `${where || 'the document'}: ${issue.message}`;
}

/**
 * Validates a parsed config; `source` names it in errors (a path, usually).
 * @throws InvalidInputError with one line naming the source and the field.
 */
export function parseHooksConfig(raw: unknown, source = CONFIG_FILE_NAME): HooksConfig {
  const result = HooksConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new InvalidInputError(`config ${source}: ${describeIssue(result.error.issues[0]!)}`);
}

/** `warden.config.json` in the directory of the state file. */
export function defaultConfigPath(stateFile: string): string {
  return path.join(path.dirname(stateFile), CONFIG_FILE_NAME);
}

/**
 * Reads and validates a config file. A missing file is `null` unless `required` (a file the user
 * named): then it is an error, like a file that does not parse or validate.
 * @throws InvalidInputError naming the file and the field; StateFileError when it cannot be read.
 */
export async function loadHooksConfig(file: string, options: { required?: boolean } = {}): Promise<HooksConfig | null> {
  let text: string;
  try {
    // Its hooks run as this user: a config another user owns or can write is refused, unread.
    assertTrustedConfig(file);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.required) return null;
    if (code === 'ENOENT') throw new InvalidInputError(`config ${file} does not exist: create it or drop --config`);
    throw new StateFileError('STATE_IO', file, `cannot read config ${file}: ${(err as Error).message}`, err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InvalidInputError(`config ${file} is not JSON (${(err as Error).message}): fix it`);
  }
  return parseHooksConfig(raw, file);
}

/** What one hook run came to. `ok` is false when it failed, timed out or could not start. */
export interface HookResult {
  /** The config entry: `orphaned`, or `orphaned[1]` for the second of a list. */
  hook: string;
  command: string;
  transition: TransitionEvent;
  ok: boolean;
  exitCode: number | null;
  /** The signal that ended it, if any (a timed-out hook is killed). */
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** The end of what the hook wrote on stderr. */
  stderr: string;
  /** One line for a log: what ran, for which session, and how it ended. */
  message: string;
}

/** Where and with what a `HookRunner` runs hooks, and who hears the results. */
export interface HookRunnerOptions {
  /** Exported to hooks as `WARDEN_STATE`, so a hook can call `warden` on the same file. */
  stateFile?: string | undefined;
  /** Exported to hooks as `WARDEN_TMUX_SOCKET` (a socket name, as `tmux -L`). */
  socket?: string | undefined;
  /** Where hooks run; the current directory by default (the CLI passes the config's directory). */
  cwd?: string | undefined;
  /** Hears every hook run, failed or not, once it has ended. */
  onResult?: ((result: HookResult) => void) | undefined;
}

interface PlannedHook {
  hook: string;
  state: HookState;
  command: string;
  timeoutMs: number;
}

function within(state: string, target: string): boolean {
  return state === target || state.startsWith(`${target}.`);
}

/** Does `event` enter `state` (see HOOK_STATES)? */
export function hookFires(state: HookState, event: Pick<TransitionEvent, 'from' | 'to'>): boolean {
  if (state === '*') return true;
  return within(event.to, state) && !within(event.from, state);
}

/** The environment a hook runs with, on top of the process's own. */
export function hookEnvironment(event: TransitionEvent, hook: string, options: HookRunnerOptions = {}): Record<string, string> {
  const env: Record<string, string> = {
    WARDEN_HOOK: hook,
    WARDEN_KEY: event.key,
    WARDEN_SESSION_ID: event.sessionId ?? '',
    WARDEN_FROM: event.from,
    WARDEN_TO: event.to,
    WARDEN_EVENT: event.event,
    WARDEN_AT: event.at,
    WARDEN_EXIT_STATUS: event.session.exitStatus === null ? '' : String(event.session.exitStatus),
  };
  if (options.stateFile) env.WARDEN_STATE = options.stateFile;
  if (options.socket) env.WARDEN_TMUX_SOCKET = options.socket;
  return env;
}

function plan(config: HooksConfig): PlannedHook[] {
  const planned: PlannedHook[] = [];
  for (const state of HOOK_STATES) {
    const entry = config.hooks[state];
    if (entry === undefined) continue;
    const list = Array.isArray(entry) ? entry : [entry];
    list.forEach((command, index) => {
      const hook = Array.isArray(entry) ? `${state}[${index}]` : state;
      planned.push(
        typeof command === 'string'
          ? { hook, state, command, timeoutMs: config.hookTimeoutMs }
          : { hook, state, command: command.run, timeoutMs: command.timeoutMs ?? config.hookTimeoutMs },
      );
    });
  }
  return planned;
}

/**
 * Runs the hooks of a config on the transitions it is given. Wire `runner.listener` to an engine
 * (`createEngine({ onTransition: runner.listener })` hears even the transitions of opening;
 * `engine.subscribe(runner.listener)` the ones after). Each hook runs as `sh -c COMMAND` in a
 * process group of its own, with the session JSON on stdin and `WARDEN_*` variables in its
 * environment; at its timeout the whole group is killed.
 */
export class HookRunner {
  /** The transition listener that queues this config's hooks. */
  readonly listener: TransitionListener;
  private readonly hooks: PlannedHook[];
  private readonly options: HookRunnerOptions;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(config: HooksConfig, options: HookRunnerOptions = {}) {
    this.hooks = plan(config);
    this.options = options;
    this.listener = (event) => this.enqueue(event);
  }

  /** How many hooks the config names. */
  get size(): number {
    return this.hooks.length;
  }

  private enqueue(event: TransitionEvent): void {
    // The process that made a transition runs its hooks; one that only read it does not run them again.
    if (this.closed || event.origin === 'elsewhere') return;
    for (const hook of this.hooks) {
      if (!hookFires(hook.state, event)) continue;
      // A hook's failure is reported by run(); a throwing onResult must not stop the queue.
      this.queue = this.queue.then(() => this.run(hook, event)).catch(() => undefined);
    }
  }

  private async run(hook: PlannedHook, transition: TransitionEvent): Promise<void> {
    const started = Date.now();
    const child = execa('sh', ['-c', hook.command], {
      input: `${JSON.stringify(transition.session)}\n`,
      env: hookEnvironment(transition, hook.hook, this.options),
      cwd: this.options.cwd,
      stdout: 'ignore',
      stderr: 'pipe',
      // Its own process group, so a timeout ends whatever the shell started, not just the shell.
      detached: true,
      reject: false,
      maxBuffer: 64 * 1024,
    });
    let timedOut = false;
    let forceKill: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      forceKill = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    }, hook.timeoutMs);
    const outcome = await child;
    clearTimeout(deadline);
    clearTimeout(forceKill);
    const stderr = String(outcome.stderr ?? '').slice(-STDERR_TAIL_CHARS);
    const exitCode = outcome.exitCode ?? null;
    const signal = outcome.signal ?? null;
    const ok = !timedOut && exitCode === 0;
    const subject = `hook ${hook.hook} for ${transition.key} (${transition.from} → ${transition.to})`;
    const lastLine = stderr.trim().split('\n').pop() ?? '';
    const how = timedOut
      ? `timed out after ${hook.timeoutMs} ms and was killed`
      : exitCode === null
        ? `could not run: ${outcome.shortMessage ?? signal ?? 'unknown error'}`
        : `exited ${exitCode}`;
    this.options.onResult?.({
      hook: hook.hook,
      command: hook.command,
      transition,
      ok,
      exitCode,
      signal,
      timedOut,
      durationMs: Date.now() - started,
      stderr,
      message: ok ? `${subject} ran` : `${subject} ${how}${lastLine ? `: ${lastLine}` : ''}`,
    });
  }

  /** Resolves once every hook queued so far has ended. */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Stops taking transitions and waits for the queued hooks (each bounded by its timeout).
   * Close the engine first, so the transitions it writes while closing still get their hooks.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
