/**
 * Lifecycle hooks: shell commands a user names in the config file (`src/config/`), run when a session enters
 * a state. A hook hears a transition only once it is durable (it is a transition listener like any
 * other), runs after it, and can never block or undo it: a failure or a timeout is reported and the
 * next hook runs. A session's hooks run in the order of its transitions; different sessions' run
 * side by side, a few at a time.
 *
 * Given to an engine as its outbox (`createEngine({ outbox: runner.outbox })`, as the CLI does),
 * each transition that has hooks is written into the state file in the same commit as the
 * transition, and leaves it once its hooks all ran: a process that exits first (Ctrl-C, a short
 * wait that ran out, a crash) leaves it there, and the next process with hooks delivers it once
 * the first is gone (at least once, invariant 14).
 */
import { execa } from 'execa';
import type { OutboxDelivery, OutboxWork, TransitionEvent, TransitionListener, TransitionOutbox } from './engine.js';
import { SESSION_STATE_PATHS } from '../machines/paths.js';

/**
 * The states a hook can be attached to. A top-level state (`active`) fires when a session enters
 * it from outside (not on `active.running → active.exited`); a dotted one fires on entering exactly
 * that substate; `*` fires on every transition.
 */
export const HOOK_STATES: readonly string[] = [...SESSION_STATE_PATHS, '*'];
/** A state a hook can be attached to. */
export type HookState = string;

/** One hook: a shell command (run with `sh -c`), or the command with its own timeout. */
export type HookCommand = string | { run: string; timeoutMs?: number | undefined };

/** The hooks of a config file (see `src/config/`): what a `HookRunner` runs. */
export interface HooksConfig {
  /** Timeout of every hook without its own `timeoutMs`. */
  hookTimeoutMs: number;
  hooks: Partial<Record<HookState, HookCommand | HookCommand[]>>;
}

/** How much of a failing hook's stderr is kept for the report. */
const STDERR_TAIL_CHARS = 400;
/** After SIGTERM, a hook's process group gets this long before SIGKILL. */
const KILL_GRACE_MS = 1_000;

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
  /** Hooks of different sessions running at once (4 by default). */
  parallel?: number | undefined;
}

const DEFAULT_PARALLEL = 4;

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
 * Runs the hooks of a config on the transitions it is given. Give `runner.outbox` to an engine
 * (`createEngine({ outbox: runner.outbox })`) for hooks that are never lost (invariant 14); or wire
 * `runner.listener` (`createEngine({ onTransition: runner.listener })`, `engine.subscribe(...)`)
 * for hooks run by this process alone, lost if it ends first. Each hook runs as `sh -c COMMAND` in
 * a process group of its own, with the session JSON on stdin and `WARDEN_*` variables in its
 * environment; at its timeout the whole group is killed.
 */
export class HookRunner {
  /** The transition listener that queues this config's hooks (not kept durably). */
  readonly listener: TransitionListener;
  /** The engine's outbox consumer: the transitions with hooks, kept in the state file until their hooks ran. */
  readonly outbox: TransitionOutbox;
  private readonly hooks: PlannedHook[];
  private readonly options: HookRunnerOptions;
  /** Per session key: the end of its chain of deliveries, so its hooks keep their order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  /** Hook processes now running, so close() can end those it stops waiting for. */
  private readonly children = new Set<{ pid: number | undefined }>();
  private slots: number;
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(config: HooksConfig, options: HookRunnerOptions = {}) {
    this.hooks = plan(config);
    this.options = options;
    this.slots = Math.max(1, options.parallel ?? DEFAULT_PARALLEL);
    this.listener = (event) => {
      // The process that made a transition runs its hooks; one that only read it does not run them again.
      const work = event.origin === 'elsewhere' ? null : this.plan(event);
      if (work) this.deliver(event, work, null);
    };
    this.outbox = {
      plan: (transition) => this.plan(transition),
      deliver: (delivery) => this.deliver(delivery.transition, delivery, delivery),
      dropped: (transition, why) => this.options.onResult?.(dropped(transition, why)),
    };
  }

  /** The hooks of this config that `transition` fires, in config order, and where they run; null: none. */
  private plan(transition: Pick<TransitionEvent, 'from' | 'to'>): OutboxWork | null {
    const hooks = this.hooks
      .filter((hook) => hookFires(hook.state, transition))
      .map(({ hook, command, timeoutMs }) => ({ hook, command, timeoutMs }));
    return hooks.length > 0 ? { hooks, cwd: this.options.cwd ?? null } : null;
  }

  /** How many hooks the config names. */
  get size(): number {
    return this.hooks.length;
  }

  /**
   * Runs the hooks of `work` (for an outbox entry: the ones queued with it) after the session's
   * earlier ones, within the parallelism bound; then marks its outbox entry delivered, or, when
   * close() cut it short, releases it for the next process.
   */
  private deliver(event: TransitionEvent, work: OutboxWork, delivery: OutboxDelivery | null): void {
    if (this.closed) {
      void delivery?.release(false).catch(() => undefined);
      return;
    }
    const key = event.key;
    const run = (this.chains.get(key) ?? Promise.resolve())
      .then(async () => {
        let delivered = false;
        let started = false;
        await this.slot();
        try {
          for (const hook of work.hooks) {
            if (this.stopped) return;
            started = true;
            // A hook's failure is reported by run(); a throwing onResult must not stop the rest.
            await this.run(hook, event, work.cwd ?? this.options.cwd).catch(() => undefined);
          }
          delivered = !this.stopped;
        } finally {
          this.release();
          // Cut short: left in the outbox, ownerless, for the next process to deliver.
          if (delivery) await (delivered ? delivery.done() : delivery.release(started)).catch(() => undefined);
        }
      })
      .catch(() => undefined);
    this.chains.set(key, run);
    this.running.add(run);
    void run.then(() => {
      this.running.delete(run);
      if (this.chains.get(key) === run) this.chains.delete(key);
    });
  }

  private async slot(): Promise<void> {
    if (this.slots > 0) {
      this.slots -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slots += 1;
  }

  private async run(hook: Pick<PlannedHook, 'hook' | 'command' | 'timeoutMs'>, transition: TransitionEvent, cwd: string | undefined): Promise<void> {
    const started = Date.now();
    const child = execa('sh', ['-c', hook.command], {
      input: `${JSON.stringify(transition.session)}\n`,
      env: hookEnvironment(transition, hook.hook, this.options),
      cwd,
      stdout: 'ignore',
      stderr: 'pipe',
      // Its own process group, so a timeout ends whatever the shell started, not just the shell.
      detached: true,
      reject: false,
      maxBuffer: 64 * 1024,
    });
    const handle = { pid: child.pid };
    this.children.add(handle);
    let timedOut = false;
    let forceKill: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      forceKill = setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    }, hook.timeoutMs);
    const outcome = await child;
    this.children.delete(handle);
    clearTimeout(deadline);
    clearTimeout(forceKill);
    // Cut short by close(): not delivered; the outbox keeps it for the next process.
    if (this.stopped) throw new Error('stopped');
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
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private stopped = false;

  /**
   * Stops taking transitions and waits for the queued hooks (each bounded by its timeout), or, with
   * `waitMs`, at most that long: hooks still running then are stopped (their process group gets
   * SIGTERM) and their transitions left in the outbox for the next process to deliver.
   * Close the engine first, so the transitions it writes while closing still get their hooks.
   */
  async close(options: { waitMs?: number } = {}): Promise<void> {
    this.closed = true;
    if (options.waitMs === undefined) return this.idle();
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), options.waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (waited) return;
    this.stopped = true;
    for (const waiting of this.waiting.splice(0)) waiting();
    for (const child of this.children) killGroup(child.pid, 'SIGTERM');
    // A hook that ignores SIGTERM does not hold the caller past a short grace.
    const forceKill = setTimeout(() => {
      for (const child of this.children) killGroup(child.pid, 'SIGKILL');
    }, KILL_GRACE_MS);
    try {
      await this.idle();
    } finally {
      clearTimeout(forceKill);
    }
  }
}

/** What a transition dropped from the outbox undelivered is reported as. */
function dropped(event: TransitionEvent, why: string): HookResult {
  return {
    hook: '*',
    command: '',
    transition: event,
    ok: false,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: 0,
    stderr: '',
    message: `hooks for ${event.key} (${event.from} → ${event.to}) were dropped: ${why}`,
  };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
