/**
 * The engine's public face: one state file and one tmux server, with an actor per session key.
 * Open it with `createEngine`; every method that changes something resolves only once the change
 * is durable. The work is done by the collaborators in `core.ts`; this file only validates,
 * delegates and answers.
 */
import { isActive } from '../../machines/paths.js';
import { ConflictError, NotFoundError, WardenError } from '../model/errors.js';
import type { Activity, HistoryEntry, LaunchSpec, SessionInfo } from '../model/schema.js';
import type { SessionStore } from '../store/store.js';
import type { Tmux } from '../tmux/commands.js';
import type { EngineCore } from './core.js';
import { validateKey } from './launch-spec.js';
import { Reconciler } from './reconcile.js';
import { sessionInfo } from './session-info.js';
import { collectOrphans, endSession, spawnSession } from './session-verbs.js';
import { explainActivity, sendToPane, signalSession, validateSendText, waitForState } from './activity-verbs.js';
import type { ActivityExplanation, SendResult, WaitResult } from './activity-verbs.js';
import type { Workspaces } from './workspaces.js';
import type {
  EndOptions,
  GcResult,
  ReconcileResult,
  SendOptions,
  SnapshotProblem,
  SpawnOptions,
  TransitionListener,
  WatchLoop,
  WatchLoopFactory,
  WatchOptions,
} from './types.js';

export class Engine {
  /** The state file this engine reads and writes. */
  readonly stateFile: string;
  /** The default tmux session for new windows. */
  readonly group: string;
  private readonly reconciler: Reconciler;
  private readonly watchers = new Set<WatchLoop>();
  private readonly checks = {
    assertUsable: (key: string) => this.assertUsable(key),
    require: (key: string) => this.require(key),
    get: (key: string) => this.get(key),
  };

  constructor(
    private readonly core: EngineCore,
    private readonly watchLoop: WatchLoopFactory,
  ) {
    this.stateFile = core.stateFile;
    this.group = core.group;
    this.reconciler = new Reconciler(core);
  }

  /** The tmux commands, for a caller that needs to run tmux itself. */
  get tmux(): Tmux {
    return this.core.tmux;
  }

  /** The durable store under the engine (read it; write only through the engine). */
  get store(): SessionStore {
    return this.core.store;
  }

  /**
   * Reads the state file and rehydrates; resumes spawns and cleanups whose process is gone unless
   * `resume: false` (then the first reconcile that reaches tmux resumes them).
   */
  async open(options: { resume?: boolean } = {}): Promise<void> {
    await this.core.open(options);
  }

  /** Picks up what other processes wrote since we last looked (one stat when nothing changed). */
  async sync(): Promise<void> {
    await this.core.sync();
  }

  /** Writes every pending change in one locked commit; a flush already running is waited for. */
  async flush(): Promise<void> {
    await this.core.writes.flush();
  }

  /**
   * Starts, resumes or restarts the session of `key`, resolving when it is active (durable) and
   * rejecting with a `WardenError` when it cannot be (conflict, not found, tmux failure).
   */
  async spawn(key: string, options: SpawnOptions = {}): Promise<SessionInfo> {
    return spawnSession(this.core, key, options, this.checks);
  }

  /**
   * Ends a session: kills only the window carrying its id, then releases its worktree as `options`
   * say, removes the record, keeps history. Rejects with `WorktreeKeptError` (exit 3) when it ended
   * but its worktree was kept because it holds work.
   */
  async end(key: string, options: EndOptions = {}): Promise<SessionInfo> {
    return (await endSession(this.core, key, () => true, this.checks, options))!;
  }

  /** How worktrees are made and removed (for doctor and gc, which report the ones left behind). */
  get workspaces(): Workspaces {
    return this.core.workspaces;
  }

  /** The session of `key` as last made durable, or undefined. Does not reconcile. */
  get(key: string): SessionInfo | undefined {
    const record = this.core.view.record(key);
    if (!record || this.core.view.problem(key)) return undefined;
    const { value, context } = record.snapshot;
    return sessionInfo(key, value, context, record.updatedAt, this.core.logs.logFile(key, context.sessionId));
  }

  /**
   * Every session, sorted by key; with `labels`, only those carrying every one of them (AND).
   * Does not reconcile: call `reconcile()` first for the truth.
   */
  list(filter: { labels?: Record<string, string> | undefined } = {}): SessionInfo[] {
    const wanted = Object.entries(filter.labels ?? {});
    return this.core.view
      .keys()
      .sort()
      .map((key) => this.get(key))
      .filter((info): info is SessionInfo => info !== undefined)
      .filter((info) => wanted.every(([name, value]) => info.labels[name] === value));
  }

  /**
   * Ends every orphaned session (after one reconcile), or with `dryRun` only lists them. A
   * session that stopped being orphaned in the meantime (adopted, resumed elsewhere) is left
   * alone; a cleanup that fails is reported in `failed` and the others still go ahead.
   */
  async gc(options: { dryRun?: boolean } = {}): Promise<GcResult> {
    return collectOrphans(this.core, await this.reconcile({ activity: false }), options, this.checks);
  }

  /** What the session of `key` was launched with (the command template, env, restart policy …). */
  launchSpec(key: string): LaunchSpec | undefined {
    return this.get(key) ? this.core.view.record(key)?.snapshot.context.spec ?? undefined : undefined;
  }

  /** Records that could not be rehydrated, for `doctor`. */
  snapshotProblems(): SnapshotProblem[] {
    return this.core.view.allProblems();
  }

  /**
   * One probe of everything (one tmux process), then each session is told what tmux shows (its
   * activity too, unless `activity: false`). An unknown answer (timeout, error) changes nothing.
   */
  async reconcile(options: { activity?: boolean } = {}): Promise<ReconcileResult> {
    return this.reconciler.reconcile(undefined, options);
  }

  /**
   * Reconciles continuously until `signal` aborts or the engine closes; transitions reach
   * subscribers as they become durable (see `src/watch/watcher.ts`).
   */
  async watch(options: WatchOptions = {}): Promise<void> {
    this.core.assertOpen();
    const watcher = this.watchLoop({
      tmux: this.core.tmux,
      group: this.group,
      reconcile: (hints, opts) => this.reconciler.reconcile(hints, opts),
      paneWatches: () => this.reconciler.paneWatches(),
      groupSeen: () => this.reconciler.groupSeen,
      records: () => this.core.view.entries(),
      stateFile: this.stateFile,
      syncFile: async () => !this.core.isClosed && (await this.core.sync()) !== null,
      isClosed: () => this.core.isClosed,
      keepLogs: () => this.core.upkeep.tick(),
    });
    this.watchers.add(watcher);
    try {
      await watcher.run(options);
    } finally {
      this.watchers.delete(watcher);
    }
  }

  /** Waits until every pending change is durable and every in-flight service has settled. */
  async settle(): Promise<void> {
    await this.core.settle();
  }

  /**
   * Types text into the pane as a bracketed paste, then Enter after the profile's delay (unless
   * `enter: false`), checked on the screen for TUI profiles; `waitReadyMs` first waits for idle/waiting.
   */
  async send(key: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    validateSendText(text);
    const ready = options.waitReadyMs === undefined ? null : await this.wait(key, ['idle', 'waiting', 'exited', 'orphaned'], { timeoutMs: options.waitReadyMs });
    if (ready && !ready.reached) {
      throw new WardenError('TIMED_OUT', `${key} is still ${ready.session?.activity ?? 'busy'} after ${options.waitReadyMs! / 1000}s: nothing was sent`);
    }
    const info = await this.activePane(key);
    if (info.exitStatus !== null) {
      // A dead pane takes no input: the text would go nowhere and the caller would hear "done".
      throw new ConflictError(`${key} has exited (status ${info.exitStatus}): resume it with 'warden spawn ${key} --mode resume'`);
    }
    return sendToPane(this.core, info, text.replaceAll('\r\n', '\n'), options);
  }

  /** Records what the session's agent says it does (its own hook): the highest-confidence source. */
  async signal(key: string, activity: Activity): Promise<SessionInfo> {
    return signalSession(this.core, key, activity, this.checks);
  }

  /** How the session's activity was decided (source, when, the line seen, the profile); null unless running. */
  explainActivity(key: string): ActivityExplanation | null {
    return explainActivity(this.core, key);
  }

  /** Resolves once the session is in one of `until` (see WAIT_UNTIL), or after `timeoutMs` with `reached: false`. */
  async wait(key: string, until: readonly string[], options: { timeoutMs?: number | undefined } = {}): Promise<WaitResult> {
    return waitForState(this.core, key, until, { ...options, checks: this.checks, watch: (signal) => this.watch({ signal }) });
  }

  /** The pane's screen and up to `lines` lines of scrollback. */
  async capture(key: string, options: { lines?: number } = {}): Promise<string> {
    const info = await this.activePane(key);
    return this.core.tmux.capturePane(info.paneId!, options);
  }

  /** Whether a client whose `$TMUX` is `tmuxEnv` runs on our server (it can `switch-client`; others attach nested). */
  async clientOnServer(tmuxEnv: string | undefined = process.env.TMUX): Promise<boolean> {
    if (!tmuxEnv) return false;
    const ours = await this.core.tmux.socketPath().catch(() => null);
    return ours !== null && tmuxEnv.split(',')[0] === ours;
  }

  /**
   * argv that shows the session's window to a person in a view of their own (switch-client inside
   * tmux, attach-session otherwise); `closeUnwatchedViews` afterwards.
   */
  attachCommand(key: string, insideTmux = Boolean(process.env.TMUX), client?: string | null): string[] {
    const info = this.requireActive(key);
    return this.core.tmux.attachCommand(info.group ?? this.group, info.windowId!, insideTmux, client);
  }

  /** The tmux client showing pane `paneId` (`$TMUX_PANE` of a program inside tmux), or null. */
  async clientShowing(paneId: string): Promise<string | null> {
    return this.core.tmux.clientShowing(paneId).catch(() => null);
  }

  /** Kills the views of `attachCommand` that no client shows any more. */
  async closeUnwatchedViews(): Promise<void> {
    await this.core.tmux.closeUnwatchedViews();
  }

  /** Ended sessions, oldest first; only those of `key` when given. */
  async history(key?: string): Promise<HistoryEntry[]> {
    // Read as a sync does: a read that left the view behind would make the next sync() see no
    // change and miss what other processes wrote.
    const { history } = (await this.core.sync(true))!;
    return key ? history.filter((h) => h.key === key) : history;
  }

  /** Hears every transition once it is durable. Returns the function that stops listening. */
  subscribe(listener: TransitionListener): () => void {
    return this.core.writes.subscribe(listener);
  }

  /**
   * Ends a running `watch`, writes what is pending, stops every actor (a spawn still in flight
   * resumes on the next open) and drops the listeners. The state file's lock is only ever held
   * inside a write, so nothing stays locked. Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.core.isClosed) return;
    const watchers = [...this.watchers];
    await Promise.all([this.core.close(), ...watchers.map((watcher) => watcher.close())]);
  }

  private assertUsable(key: string): void {
    const problem = this.core.view.problem(key);
    if (problem) {
      throw new WardenError('SNAPSHOT_INVALID', `${key} cannot be loaded from ${this.stateFile} (${problem.message}): run 'warden doctor'`);
    }
    const record = this.core.view.record(key);
    if (record && this.core.owners.busyElsewhere(record)) {
      const state = sessionInfo(key, record.snapshot.value, record.snapshot.context, null).state;
      throw new ConflictError(`${key} is ${state} in process ${record.owner?.pid}: try again when it finishes`);
    }
  }

  private require(key: string): SessionInfo {
    this.assertUsable(key);
    const info = this.get(key);
    if (!info) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
    return info;
  }

  /** The session of `key`, which must be active with a window. */
  private requireActive(key: string): SessionInfo {
    const info = this.require(key);
    if (!isActive(this.core.view.record(key)!.snapshot.value) || !info.paneId || !info.windowId) {
      throw new ConflictError(`${key} is ${info.state}, not active: resume it with 'warden spawn ${key} --mode resume'`);
    }
    return info;
  }

  private async activePane(key: string): Promise<SessionInfo> {
    this.core.assertOpen();
    validateKey(key);
    await this.core.sync();
    const info = this.requireActive(key);
    // Pane ids restart with a tmux server: type into (or read) a pane only while it carries our
    // tag, never into whatever pane now has the recorded id.
    const owned = await this.core.tmux.findOwned(info.sessionId!);
    if (!owned.some((p) => p.paneId === info.paneId)) {
      throw new ConflictError(`${key}'s window is gone: 'warden ls' shows it orphaned; resume it with 'warden spawn ${key} --mode resume'`);
    }
    return info;
  }
}
