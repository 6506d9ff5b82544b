/**
 * The engine's public face: one state file and one tmux server, with an actor per session key.
 * Open it with `createEngine`; every method that changes something resolves only once the change
 * is durable. The work is done by the collaborators in `core.ts`; this file only validates,
 * delegates and answers.
 */
import { isActive, isOrphaned } from '../../machines/paths.js';
import { ConflictError, InvalidInputError, NotFoundError, WardenError, toErrorData } from '../model/errors.js';
import { SEND_TEXT_MAX_BYTES, type HistoryEntry, type SessionInfo } from '../model/schema.js';
import type { SessionStore } from '../store/store.js';
import type { Tmux } from '../tmux/commands.js';
import type { EngineCore } from './core.js';
import { validateKey } from './launch-spec.js';
import { Reconciler } from './reconcile.js';
import { sessionInfo } from './session-info.js';
import { endSession, spawnSession, WorktreeKeptError } from './session-verbs.js';
import type { Workspaces } from './workspaces.js';
import type {
  EndOptions,
  GcResult,
  ReconcileResult,
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

  /** The tmux commands (socket, binary, timeouts), for a caller that needs to run tmux itself. */
  get tmux(): Tmux {
    return this.core.tmux;
  }

  /** The durable store under the engine; read it, but write only through the engine. */
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
    const probe = await this.reconcile();
    if (probe.probe === 'unknown') {
      // An orphan whose window came back would be ended: gc acts only on a fresh answer.
      if (probe.error?.code === 'TMUX_NOT_FOUND') throw new WardenError('TMUX_NOT_FOUND', probe.error.message);
      throw new WardenError('TMUX_FAILED', `tmux did not answer (${probe.error?.message ?? 'no answer'}): gc ended nothing, try again`);
    }
    const orphaned = this.core.view
      .keys()
      .sort()
      .filter((key) => !this.core.view.problem(key) && isOrphaned(this.core.view.record(key)!.snapshot.value))
      .map((key) => this.get(key)!);
    const result: GcResult = { sessions: options.dryRun ? orphaned : [], failed: [], logsRemoved: [] };
    if (options.dryRun) return result;
    for (const info of orphaned) {
      try {
        const stillOrphaned = (current: SessionInfo) =>
          current.sessionId === info.sessionId && isOrphaned(this.core.view.record(info.key)?.snapshot.value);
        const ended = await endSession(this.core, info.key, stillOrphaned, this.checks);
        if (ended) result.sessions.push(ended);
      } catch (err) {
        // Ended, its worktree kept because it holds work: `gc` reports those worktrees itself.
        if (err instanceof WorktreeKeptError) result.sessions.push(err.session);
        else result.failed.push({ key: info.key, error: toErrorData(err) });
      }
    }
    return { ...result, logsRemoved: await this.core.upkeep.retain() };
  }

  /** Records that could not be rehydrated, for `doctor`. */
  snapshotProblems(): SnapshotProblem[] {
    return this.core.view.allProblems();
  }

  /**
   * One probe of everything (one tmux process), then each session is told what tmux shows.
   * An unknown answer (timeout, unexpected error) changes nothing.
   */
  async reconcile(): Promise<ReconcileResult> {
    return this.reconciler.reconcile();
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
      reconcile: () => this.reconcile(),
      groupSeen: () => this.reconciler.groupSeen,
      records: () => this.core.view.entries(),
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
   * Types text into the session's pane, literally; Enter after it unless `enter: false`.
   * Newlines and tabs are typed; any other control character is refused, since "literal" text
   * that silently became a key press (Ctrl-C, Escape) would surprise whoever sent it.
   */
  async send(key: string, text: string, options: { enter?: boolean } = {}): Promise<void> {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > SEND_TEXT_MAX_BYTES) {
      throw new InvalidInputError(
        `the text is ${bytes} bytes, more than the ${SEND_TEXT_MAX_BYTES} one send can type (tmux refuses longer commands): send it in parts`,
      );
    }
    const control = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(text.replaceAll('\r\n', '\n'));
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      throw new InvalidInputError(
        `the text contains control character U+${code}: send types text (newline and tab included); press keys with 'tmux send-keys'`,
      );
    }
    const info = await this.activePane(key);
    if (info.exitStatus !== null) {
      // A dead pane takes no input: the text would go nowhere and the caller would hear "done".
      throw new ConflictError(`${key} has exited (status ${info.exitStatus}): resume it with 'warden spawn ${key} --mode resume'`);
    }
    await this.core.tmux.sendText(info.paneId!, text.replaceAll('\r\n', '\n'), options);
  }

  /** The pane's screen and up to `lines` lines of scrollback. */
  async capture(key: string, options: { lines?: number } = {}): Promise<string> {
    const info = await this.activePane(key);
    return this.core.tmux.capturePane(info.paneId!, options);
  }

  /**
   * Whether a client whose `$TMUX` is `tmuxEnv` runs on this engine's tmux server: only then can
   * it `switch-client`; a client of another server attaches (nested) instead.
   */
  async clientOnServer(tmuxEnv: string | undefined = process.env.TMUX): Promise<boolean> {
    if (!tmuxEnv) return false;
    const ours = await this.core.tmux.socketPath().catch(() => null);
    return ours !== null && tmuxEnv.split(',')[0] === ours;
  }

  /** argv that shows the session's window to a person (switch-client inside tmux). */
  attachCommand(key: string, insideTmux = Boolean(process.env.TMUX)): string[] {
    const info = this.requireActive(key);
    return this.core.tmux.attachCommand(info.windowId!, insideTmux);
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
