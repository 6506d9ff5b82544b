/**
 * Lifecycle hooks: shell commands a user names in the config file (`src/config/`), run when a session enters
 * a state. A hook hears a transition only once it is durable (it is a transition listener like any
 * other), runs after it, and can never block or undo it: a failure or a timeout is reported and the
 * next hook runs. A session's hooks run in the order of its transitions; different sessions' run
 * side by side, a few at a time.
 *
 * With a spool directory (the CLI uses `state.json.hooks/`), each transition that has hooks is
 * written there, synced, before any of them runs, and removed once they all ran: a process that
 * exits first (Ctrl-C, a short wait that ran out, a crash) leaves it, and the next process with the
 * same config delivers it once the writer is gone (at least once, invariant 14).
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { TransitionEvent, TransitionListener } from './engine.js';
import { SESSION_STATE_PATHS } from '../machines/paths.js';
import { processAlive, processStartTime } from './tmux/host.js';

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
  /**
   * A directory where transitions with hooks are kept until their hooks ran (created 0700), so
   * none is lost when this process ends first; the transitions other (gone) processes left there
   * are delivered when the runner starts.
   */
  spoolDir?: string | undefined;
  /** Hooks of different sessions running at once (4 by default). */
  parallel?: number | undefined;
}

/** A transition waiting for its hooks, as kept in the spool. */
interface Spooled {
  id: string;
  event: TransitionEvent;
  /** Deliveries cut short by their process ending (not by the hook's own timeout). */
  attempts: number;
}

/** A transition whose delivery was cut short this many times is dropped (and reported). */
const MAX_ATTEMPTS = 5;
const DEFAULT_PARALLEL = 4;
/** How often a running runner looks for transitions gone processes left in the spool. */
const SPOOL_SWEEP_MS = 1000;

/** This process in a spool file's name: `<id>.<pid>.<startTicks>.json`. */
function selfTag(): string {
  return `${process.pid}.${processStartTime(process.pid)?.startTicks ?? 0}`;
}

/** Whether the process named in a spool file's name still runs. */
function writerAlive(name: string): boolean {
  const match = /^[0-9a-f-]+\.(\d+)\.(\d+)\.json$/.exec(name);
  if (!match) return false;
  const pid = Number(match[1]);
  const ticks = Number(match[2]);
  const boot = processStartTime(process.pid)?.bootId;
  return processAlive(pid, ticks && boot ? { bootId: boot, startTicks: ticks } : null);
}

function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
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
    this.listener = (event) => this.enqueue(event);
    const dir = options.spoolDir;
    if (dir && this.hooks.length > 0) {
      this.recover(dir);
      // A long-running process (watch) also delivers what short ones leave behind as they exit.
      this.sweeper = setInterval(() => this.closed || this.recover(dir), SPOOL_SWEEP_MS);
      this.sweeper.unref();
    }
  }

  private sweeper: NodeJS.Timeout | undefined;

  /** How many hooks the config names. */
  get size(): number {
    return this.hooks.length;
  }

  private enqueue(event: TransitionEvent): void {
    // The process that made a transition runs its hooks; one that only read it does not run them again.
    if (this.closed || event.origin === 'elsewhere') return;
    if (!this.hooks.some((hook) => hookFires(hook.state, event))) return;
    const entry: Spooled = { id: randomUUID(), event, attempts: 0 };
    this.deliver(entry, this.spool(entry));
  }

  /** Keeps `entry` in the spool (synced) before its hooks run; returns its file, or null without a spool. */
  private spool(entry: Spooled): string | null {
    const dir = this.options.spoolDir;
    if (!dir) return null;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${entry.id}.${selfTag()}.json`);
      writeDurably(file, JSON.stringify(entry));
      return file;
    } catch {
      return null; // the hooks still run now; only the redelivery is lost
    }
  }

  /** Takes over what gone processes left in the spool (renamed to our name: one taker each). */
  private recover(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (writerAlive(name)) continue;
      const id = name.split('.')[0]!;
      const file = path.join(dir, `${id}.${selfTag()}.json`);
      try {
        renameSync(path.join(dir, name), file);
        const entry = JSON.parse(readFileSync(file, 'utf8')) as Spooled;
        entry.attempts += 1;
        if (entry.attempts > MAX_ATTEMPTS) {
          unlinkSync(file);
          this.options.onResult?.(dropped(entry));
          continue;
        }
        writeDurably(file, JSON.stringify(entry));
        this.deliver(entry, file);
      } catch {
        // taken by another process first, or unreadable: not ours
      }
    }
  }

  /** Runs the entry's hooks after the session's earlier ones, within the parallelism bound; then unspools it. */
  private deliver(entry: Spooled, file: string | null): void {
    const key = entry.event.key;
    const run = (this.chains.get(key) ?? Promise.resolve())
      .then(async () => {
        await this.slot();
        try {
          for (const hook of this.hooks) {
            if (this.stopped) return; // left in the spool for the next process
            // A hook's failure is reported by run(); a throwing onResult must not stop the rest.
            if (hookFires(hook.state, entry.event)) await this.run(hook, entry.event).catch(() => undefined);
          }
          if (file && !this.stopped) unlinkSync(file);
        } finally {
          this.release();
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
    // Cut short by close(): not delivered; the spool keeps it for the next process.
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
   * SIGTERM) and, with a spool, left there for the next process to deliver.
   * Close the engine first, so the transitions it writes while closing still get their hooks.
   */
  async close(options: { waitMs?: number } = {}): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
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
    await this.idle();
  }
}

/** What a dropped spool entry is reported as. */
function dropped(entry: Spooled): HookResult {
  const { event } = entry;
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
    message: `hooks for ${event.key} (${event.from} → ${event.to}) were cut short ${MAX_ATTEMPTS} times and are dropped: run 'warden watch' to give slow hooks the time they need`,
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
