/**
 * The engine wires the session machine to tmux and to the state file. One actor per key,
 * created lazily from its persisted snapshot when something has to happen to it; every
 * transition is written (coalesced) before it is reported; changes made by other processes are
 * noticed before acting and never written over.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  createActor,
  fromPromise,
  type Actor,
  type AnyActorScope,
  type ExecutableActionObject,
  type InspectionEvent,
  type Observer,
} from 'xstate';
import {
  SESSION_MACHINE_VERSION,
  SESSION_STATE_PATHS,
  sessionMachine,
  stateString,
  topState,
  type CleanupInput,
  type LaunchInput,
  type LaunchOutput,
  type SessionEvent,
} from '../machines/session.js';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  WardenError,
  toErrorData,
} from './model/errors.js';
import {
  GroupSchema,
  KeySchema,
  LaunchSpecSchema,
  SEND_TEXT_MAX_BYTES,
  SpawnModeSchema,
  type ErrorData,
  type HistoryEntry,
  type LaunchSpec,
  type PersistedSnapshot,
  type RecordOwner,
  type SessionContext,
  type SessionInfo,
  type SessionRecord,
  type SessionState,
  type SpawnMode,
  type StateDocument,
} from './model/schema.js';
import { TmuxEvents } from './control.js';
import { processAlive, processEnded } from './proc.js';
import { StateStore, defaultStatePath, type CommitOp } from './store.js';
import { Tmux, type PaneRecord, type TmuxSocket } from './tmux.js';

/** The tmux session that holds the windows unless told otherwise. */
export const DEFAULT_GROUP = 'warden';

/** How `createEngine` opens an engine. Every field is optional. */
export interface EngineOptions {
  /** The state file; `$WARDEN_STATE`, then the XDG state directory, by default. */
  stateFile?: string | undefined;
  /** A tmux socket name (`tmux -L`), or `{ path }` for `tmux -S`. The default server otherwise. */
  socket?: string | TmuxSocket | undefined;
  /** The tmux session that holds the windows; `warden` by default. */
  group?: string | undefined;
  /** An XState inspection observer: receives the events of every session actor. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  /** How long a probe may take before its answer is "unknown". */
  probeTimeoutMs?: number | undefined;
  /** Timeout of every other tmux call. */
  tmuxTimeoutMs?: number | undefined;
  /** The tmux binary (`tmux` on PATH by default). */
  tmuxBin?: string | undefined;
  /** Reconcile once on open (default true). Work left by a dead process resumes at the first reconcile. */
  reconcileOnOpen?: boolean | undefined;
  /** Age after which a lock left by a killed process is taken over (the store's default otherwise; min 2000). */
  lockStaleMs?: number | undefined;
  /**
   * A transition listener subscribed before the engine opens, so it also hears the transitions of
   * opening (a resumed spawn, the first reconcile). Same contract as `subscribe`.
   */
  onTransition?: TransitionListener | undefined;
}

/** What `Engine.spawn` starts, and how. */
export interface SpawnOptions {
  /**
   * `normal` (default) refuses a key that is not `normal`; `resume` attaches to a running session
   * and relaunches an orphaned or exited one under the same session id; `fresh` ends whatever runs
   * and starts a new session id.
   */
  mode?: SpawnMode | undefined;
  /** argv of the program; `{sessionId}` and `{key}` are substituted. Required unless resuming. */
  command?: string[] | undefined;
  /** Working directory of the program; it must exist. The tmux server's directory by default. */
  cwd?: string | null | undefined;
  /** Extra environment of the program (it always gets `WARDEN_SESSION_ID` and `WARDEN_KEY`). */
  env?: Record<string, string> | undefined;
  /** Free-form labels stored with the session (a ticket id, an owner). */
  labels?: Record<string, string> | undefined;
  /** The tmux session to put the window in; the engine's group by default. */
  group?: string | undefined;
  /** Template used to relaunch an orphaned or exited session; `{sessionId}` and `{key}` substituted. */
  resumeCommand?: string | null | undefined;
}

/** A state change of one session, reported only once it is durable in the state file. */
export interface TransitionEvent {
  key: string;
  sessionId: string | null;
  from: string;
  to: string;
  /**
   * The event that caused it: `SPAWN`, `END`, `WINDOW_GONE`, `xstate.done.actor.launch`, …;
   * `state-file` for a change another process made, seen when this engine read the file.
   */
  event: string;
  at: string;
  /** `here`: made by this engine; `elsewhere`: made by another process (a CLI call, say). */
  origin: 'here' | 'elsewhere';
  session: SessionInfo;
}

/** Hears transitions once durable; what it throws is ignored (the transition stands). */
export type TransitionListener = (event: TransitionEvent) => void;

/** What `gc` ended (state `normal`), or with `dryRun` would end (state `orphaned`). */
export interface GcResult {
  sessions: SessionInfo[];
  failed: { key: string; error: ErrorData }[];
}

/** What one `reconcile()` saw and did. */
export interface ReconcileResult {
  /** What tmux answered: `unknown` means nothing was changed. */
  probe: 'ok' | 'no-server' | 'unknown';
  transitions: TransitionEvent[];
  /**
   * Running sessions whose pane tmux shows dead before its exit status is known (the process is
   * not reaped yet): they move to `active.exited` on a later reconcile, which `watch` makes soon.
   */
  exitsPending: number;
  error?: ErrorData | undefined;
}

/** A persisted record that could not be rehydrated; it is left in the file untouched. */
export interface SnapshotProblem {
  key: string;
  message: string;
}

type SessionActor = Actor<typeof sessionMachine>;

/** A durable write of one key: the record now in the file (null when removed) and the context it ended with. */
interface Durable {
  record: SessionRecord | null;
  context: SessionContext | null;
}

interface Pending {
  history: HistoryEntry[];
  transitions: Omit<TransitionEvent, 'session' | 'origin'>[];
  /** The next snapshot of a key that has no actor, computed by a pure transition (see `probeStep`). */
  snapshot?: PersistedSnapshot | undefined;
}

/** Probe events whose every target state is at rest (no invoked service): no actor is needed to take them. */
const RESTING_EVENTS = new Set(['WINDOW_GONE', 'PANE_EXITED', 'WINDOW_FOUND']);
const RESTING_STATES = new Set(['active.running', 'active.exited', 'orphaned']);

interface Waiter {
  key: string;
  test: (record: SessionRecord | null) => boolean;
  resolve: (outcome: Durable) => void;
  reject: (err: unknown) => void;
}

/** Every state value the machine can be in, as dotted strings: anything else is not rehydrated. */
const KNOWN_STATES = new Set<string>(
  SESSION_STATE_PATHS.filter((path) => !SESSION_STATE_PATHS.some((other) => other.startsWith(`${path}.`))),
);
/** A dead pane whose exit status tmux does not know yet. */
const EXIT_PENDING = 'exit-pending' as const;
/** How soon `watch` looks again at a dead pane whose exit status is not known yet. */
const EXIT_RECHECK_MS = 25;
/** How often `watch` looks at running panes' processes between tmux's notifications. */
const PROCESS_CHECK_MS = 100;
/** At most this many processes per look (about 1 ms of /proc reads): 10,000 sessions take 4 s. */
const PROCESS_CHECK_BATCH = 256;
/** A spawn or cleanup not finished within this lease belongs to nobody (its process is gone). */
const IN_FLIGHT_LEASE_MS = 60_000;
const HOST = hostname();

function substitute(template: string, context: { sessionId: string; key: string }): string {
  return template.replaceAll('{sessionId}', context.sessionId).replaceAll('{key}', context.key);
}

function firstIssue(error: { issues: { path: PropertyKey[]; message: string }[] }, subject: string): string {
  const issue = error.issues[0];
  if (!issue) return `invalid ${subject}`;
  const where = issue.path.length ? `${subject} ${issue.path.map(String).join('.')}` : subject;
  return `invalid ${where}: ${issue.message}`;
}

/** The first problem of a launch spec, named as the CLI flag that carries it. */
function specIssue(key: string, error: { issues: { path: PropertyKey[]; message: string; issues?: unknown }[] }): string {
  const issue = error.issues[0];
  const flag = { env: '--env', labels: '--label', cwd: '--cwd', group: '--group', resumeCommand: '--resume-command' }[
    String(issue?.path[0])
  ];
  if (!issue || !flag) return firstIssue(error as never, `spawn ${key}`);
  // A bad record key (env or label name) carries its reason one level down.
  const nested = (issue.issues as { message: string }[] | undefined)?.[0]?.message;
  const name = issue.path.length > 1 ? ` ${JSON.stringify(String(issue.path[1]))}` : '';
  return `invalid ${flag}${name}: ${nested ?? issue.message}`;
}

/**
 * Returns `key` if it is a valid session key.
 * @throws InvalidInputError naming the rule otherwise.
 */
export function validateKey(key: unknown): string {
  const parsed = KeySchema.safeParse(key);
  if (!parsed.success) {
    throw new InvalidInputError(
      `invalid key ${JSON.stringify(key)}: use 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit`,
    );
  }
  return parsed.data;
}

function sessionInfo(key: string, value: unknown, context: SessionContext, updatedAt: string | null): SessionInfo {
  const state = (topState(value) || 'normal') as SessionState;
  return {
    key,
    state,
    sessionId: context.sessionId,
    group: context.spec?.group ?? null,
    windowId: context.windowId,
    paneId: context.paneId,
    pid: context.pid,
    command: context.spec?.command ?? [],
    cwd: context.spec?.cwd ?? null,
    labels: context.spec?.labels ?? {},
    createdAt: context.createdAt,
    updatedAt,
    exitStatus: context.exitStatus,
  };
}

function isInFlight(record: SessionRecord): boolean {
  const state = topState(record.snapshot.value);
  return state === 'spawning' || (state === 'ending' && record.snapshot.context.error === null);
}


/**
 * One state file and one tmux server, with an actor per session key. Open it with
 * `createEngine`; every method that changes something resolves only once the change is durable.
 */
export class Engine {
  /** The state file this engine reads and writes. */
  readonly stateFile: string;
  /** The default tmux session for new windows. */
  readonly group: string;
  /** The tmux adapter (socket, binary, timeouts), for a caller that needs to run tmux itself. */
  readonly tmux: Tmux;
  /** The durable store under the engine; read it, but write only through the engine. */
  readonly store: StateStore;

  private readonly probeTimeoutMs: number;
  private readonly userInspect: EngineOptions['inspect'];
  private readonly machine;
  /** The durable view: what the state file holds for each key, as last read or written. */
  private readonly records = new Map<string, SessionRecord>();
  private readonly actors = new Map<string, SessionActor>();
  private readonly lastSeen = new Map<string, { state: string; context: SessionContext }>();
  private readonly lastEvent = new Map<string, string>();
  private readonly problems = new Map<string, SnapshotProblem>();
  /** Session ids restored in `spawning`: their launch must look for an existing window first. */
  private readonly resumedLaunches = new Set<string>();
  /** Keys whose launch is left `spawning` for another process (tmux did not answer): not waited for. */
  private readonly parkedLaunches = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private readonly syncs = new OneAtATime();
  /** Commit results absorbed into the view: a read that overlapped one may be older than it. */
  private commitsAbsorbed = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<TransitionListener>();
  /** Control clients of running `watch` loops: `close()` ends them. */
  private readonly watchers = new Set<{ events: TmuxEvents; stop: AbortController }>();
  /** What the last probe saw of the group: whether a control client can attach, which windows to hook. */
  private groupSeen: { exists: boolean; taggedWindows: string[] } = { exists: false, taggedWindows: [] };
  private inertScope: { scope: AnyActorScope; actions: ExecutableActionObject[] } | null = null;
  private flushScheduled = false;
  private readonly flushes = new OneAtATime();
  /** Why the last commit failed (disk full, read-only, lock); null once one succeeds. */
  private flushError: unknown = null;
  private closed = false;

  constructor(options: EngineOptions = {}) {
    this.stateFile = options.stateFile ?? defaultStatePath();
    this.group = GroupSchema.parse(options.group ?? DEFAULT_GROUP);
    const socket = typeof options.socket === 'string' ? { name: options.socket } : options.socket;
    this.tmux = new Tmux({ socket, bin: options.tmuxBin, timeoutMs: options.tmuxTimeoutMs });
    this.store = new StateStore(this.stateFile, { lockStaleMs: options.lockStaleMs });
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5000;
    this.userInspect = options.inspect;
    if (options.onTransition) this.listeners.add(options.onTransition);
    this.machine = sessionMachine.provide({
      actors: {
        launchWindow: fromPromise<LaunchOutput, LaunchInput>(({ input, signal }) => this.launch(input, signal)),
        cleanupWindow: fromPromise<void, CleanupInput>(({ input, signal }) => this.cleanup(input, signal)),
      },
    });
  }

  // ---------------------------------------------------------------- opening and syncing

  /**
   * Reads the state file and rehydrates; resumes spawns and cleanups whose process is gone unless
   * `resume: false` (then the first reconcile that reaches tmux resumes them).
   */
  async open(options: { resume?: boolean } = {}): Promise<void> {
    const document = await this.store.load();
    for (const [key, record] of Object.entries(document.sessions)) this.adoptRecord(key, record);
    if (options.resume !== false) this.resumeAbandoned();
    this.showToInspector();
  }

  /** Picks up what other processes wrote since we last looked (one stat when nothing changed). */
  async sync(): Promise<void> {
    // One at a time: two reads applied out of order would leave an older view that changed()
    // then takes for current.
    await this.syncs.run(async () => {
      await this.syncOnce();
    });
  }

  /** Reads the file when it changed (always with `force`) and takes it in; returns what was read. */
  private async syncOnce(force = false): Promise<StateDocument | null> {
    if (!force && !(await this.store.changed())) return null;
    let document: StateDocument;
    for (;;) {
      const commits = this.commitsAbsorbed;
      document = await this.store.load();
      // A commit of ours landed while we read: this read may predate it, so read again.
      if (commits !== this.commitsAbsorbed) continue;
      this.absorb(document);
      break;
    }
    this.resumeAbandoned();
    this.showToInspector();
    return document;
  }

  /** Brings the durable view up to `document` (keys in `skip` are already up to date). */
  private absorb(document: StateDocument, skip: ReadonlySet<string> = new Set()): void {
    for (const [key, known] of [...this.records]) {
      if (skip.has(key) || key in document.sessions) continue;
      this.dropKey(key, 'ended by another process');
      this.reportFromFile(key, known, undefined);
    }
    for (const [key, record] of Object.entries(document.sessions)) {
      if (skip.has(key)) continue;
      const known = this.records.get(key);
      if (known && known.rev === record.rev && known.updatedAt === record.updatedAt) continue;
      this.dropKey(key, 'changed by another process');
      this.adoptRecord(key, record);
      this.reportFromFile(key, known, record);
    }
  }

  /**
   * With an inspector attached, every session gets its actor now, not when something first
   * happens to it, so the inspector shows them all. Only records at rest: no service runs in
   * those states, so creating the actor does nothing; `spawning`/`ending` get theirs when resumed.
   */
  private showToInspector(): void {
    if (!this.userInspect || this.closed) return;
    for (const [key, record] of this.records) {
      if (this.problems.has(key) || this.actors.has(key) || isInFlightSnapshot(record.snapshot)) continue;
      this.actorFor(key);
    }
  }

  private adoptRecord(key: string, record: SessionRecord): void {
    this.records.set(key, record);
    this.problems.delete(key);
    const problem = this.checkRecord(record);
    if (problem) this.problems.set(key, { key, message: problem });
  }

  private checkRecord(record: SessionRecord): string | null {
    if (record.machineVersion !== SESSION_MACHINE_VERSION) {
      return `written by session machine version ${record.machineVersion}, this is ${SESSION_MACHINE_VERSION}`;
    }
    if (record.snapshot.status === 'error') return 'the persisted actor is in error status';
    if (record.snapshot.status !== 'active') return `the persisted actor is ${record.snapshot.status}`;
    const state = stateString(record.snapshot.value);
    if (!KNOWN_STATES.has(state)) return `unknown state ${JSON.stringify(record.snapshot.value)}`;
    return null;
  }

  /** Forgets our in-memory actor for a key (without writing anything). */
  private dropKey(key: string, reason: string): void {
    const actor = this.actors.get(key);
    if (actor) {
      this.actors.delete(key);
      actor.stop();
    }
    this.records.delete(key);
    this.lastSeen.delete(key);
    this.pending.delete(key);
    this.problems.delete(key);
    for (const waiter of [...this.waiters]) {
      if (waiter.key !== key) continue;
      this.waiters.delete(waiter);
      waiter.reject(new ConflictError(`${key} was ${reason}: run the command again`));
    }
  }

  private ownedByUs(record: SessionRecord): boolean {
    return record.owner?.pid === process.pid && record.owner.host === HOST && this.actors.has(record.snapshot.context.key);
  }

  /** Is a spawn or cleanup of this record being carried out by a live process right now? */
  private busyElsewhere(record: SessionRecord): boolean {
    if (!isInFlight(record) || this.ownedByUs(record)) return false;
    const owner = record.owner;
    if (!owner) return false;
    if (Date.now() - Date.parse(record.updatedAt) > IN_FLIGHT_LEASE_MS) return false;
    if (owner.host !== HOST) return true;
    if (owner.pid === process.pid) return false;
    return processAlive(owner.pid);
  }

  /**
   * Stops the actors of launches left unconfirmed (tmux did not answer the spawn nor its
   * rollback): without an actor, their records are resumed by `resumeAbandoned`, which adopts the
   * window if it came up or creates it once.
   */
  private releaseParkedLaunches(): void {
    for (const key of [...this.parkedLaunches]) {
      const actor = this.actors.get(key);
      this.actors.delete(key);
      this.lastSeen.delete(key);
      this.parkedLaunches.delete(key);
      actor?.stop();
    }
  }

  /** A record left in `spawning` or `ending` by a process that died: take it over and finish. */
  private resumeAbandoned(): void {
    if (this.closed) return;
    for (const [key, record] of this.records) {
      if (this.problems.has(key) || this.actors.has(key) || !isInFlight(record)) continue;
      if (this.busyElsewhere(record)) continue;
      const sessionId = record.snapshot.context.sessionId;
      if (topState(record.snapshot.value) === 'spawning' && sessionId) this.resumedLaunches.add(sessionId);
      this.actorFor(key);
      // Claim it: the restored service waits until a record owned by this process is durable.
      this.markDirty(key);
    }
  }

  // ---------------------------------------------------------------- actors

  private actorFor(key: string): SessionActor {
    const existing = this.actors.get(key);
    if (existing) return existing;
    this.assertOpen();
    const restored = this.currentSnapshot(key);
    const inspect = this.inspector(key);
    const actor = restored
      ? createActor(this.machine, { snapshot: restored as never, input: { key }, inspect })
      : createActor(this.machine, { input: { key }, inspect });
    this.actors.set(key, actor);
    let started = false;
    actor.subscribe({
      next: (snapshot) => {
        if (!started || this.actors.get(key) !== actor) return;
        this.onSnapshot(key, snapshot.value, snapshot.context);
      },
      error: (err) => {
        if (this.actors.get(key) !== actor) return;
        this.actors.delete(key);
        this.problems.set(key, { key, message: `the session actor failed: ${toErrorData(err).message}` });
      },
    });
    // Subscribed (with an error observer) before start: a restored snapshot never throws here.
    actor.start();
    const snapshot = actor.getSnapshot();
    this.lastSeen.set(key, { state: stateString(snapshot.value), context: snapshot.context });
    started = true;
    return actor;
  }

  private inspector(key: string): (event: InspectionEvent) => void {
    const user = this.userInspect;
    return (event) => {
      if (event.type === '@xstate.event' && event.actorRef === this.actors.get(key)) {
        this.lastEvent.set(key, event.event.type);
      }
      if (typeof user === 'function') user(event);
      else user?.next?.(event);
    };
  }

  private onSnapshot(key: string, value: unknown, context: SessionContext): void {
    const before = this.lastSeen.get(key);
    const to = stateString(value);
    if (before && before.state === to && before.context === context) return;
    this.lastSeen.set(key, { state: to, context });
    const entry = this.pendingFor(key);
    const from = before?.state ?? 'normal';
    const at = new Date().toISOString();
    if (from !== to) {
      entry.transitions.push({
        key,
        sessionId: context.sessionId,
        from,
        to,
        event: this.lastEvent.get(key) ?? 'unknown',
        at,
      });
      const old = before?.context;
      if (old?.sessionId && from === 'ending' && (to === 'normal' || to === 'spawning')) {
        entry.history.push(this.historyEntry(old, to === 'normal' ? 'ended' : 'replaced', at));
      } else if (from === 'spawning' && to === 'normal' && context.sessionId) {
        entry.history.push(this.historyEntry(context, 'spawn-failed', at));
      }
    }
    this.scheduleFlush();
  }

  private historyEntry(context: SessionContext, reason: HistoryEntry['reason'], at: string): HistoryEntry {
    return {
      key: context.key,
      sessionId: context.sessionId!,
      command: context.spec?.command ?? [],
      cwd: context.spec?.cwd ?? null,
      group: context.spec?.group ?? this.group,
      labels: context.spec?.labels ?? {},
      createdAt: context.createdAt,
      endedAt: at,
      reason,
      exitStatus: context.exitStatus,
      error: context.error,
    };
  }

  private pendingFor(key: string): Pending {
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { history: [], transitions: [] };
      this.pending.set(key, entry);
    }
    return entry;
  }

  private markDirty(key: string): void {
    this.pendingFor(key);
    this.scheduleFlush();
  }

  // ---------------------------------------------------------------- persistence

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /** Writes every pending change in one locked commit; a flush already running is waited for. */
  async flush(): Promise<void> {
    await this.flushes.run(async () => {
      if (this.pending.size > 0) await this.writePending();
    });
  }

  private async writePending(): Promise<void> {
    const batch = new Map(this.pending);
    this.pending.clear();
    const owner: RecordOwner = { pid: process.pid, host: HOST };
    const ops: CommitOp[] = [];
    for (const [key, entry] of batch) {
      const known = this.records.get(key);
      const expect = known ? { rev: known.rev, updatedAt: known.updatedAt } : null;
      const actor = this.actors.get(key);
      const snapshot = actor ? (actor.getPersistedSnapshot() as unknown as PersistedSnapshot) : entry.snapshot;
      if (!snapshot) continue;
      const normal = topState(snapshot.value) === 'normal';
      if (normal && !known && entry.history.length === 0) continue;
      ops.push({
        key,
        expect,
        record: normal
          ? null
          : {
              machineVersion: SESSION_MACHINE_VERSION,
              snapshot,
              owner: isInFlightSnapshot(snapshot) ? owner : null,
            },
        history: entry.history,
      });
    }
    let result;
    try {
      result = await this.store.commit(ops);
    } catch (err) {
      for (const [key, entry] of batch) {
        const again = this.pendingFor(key);
        again.snapshot ??= entry.snapshot;
        again.history.unshift(...entry.history);
        again.transitions.unshift(...entry.transitions);
      }
      for (const waiter of [...this.waiters]) {
        if (!batch.has(waiter.key)) continue;
        this.waiters.delete(waiter);
        waiter.reject(err);
      }
      this.flushError = err;
      return;
    }
    this.flushError = null;
    const reports: TransitionEvent[] = [];
    for (const [key, record] of result.applied) {
      const entry = batch.get(key);
      const context = record?.snapshot.context ?? this.actors.get(key)?.getSnapshot().context;
      const value = record?.snapshot.value ?? 'normal';
      if (record) {
        this.records.set(key, record);
      } else {
        this.records.delete(key);
        const actor = this.actors.get(key);
        this.actors.delete(key);
        this.lastSeen.delete(key);
        actor?.stop();
      }
      if (entry && context) {
        for (const t of entry.transitions) {
          const info = sessionInfo(key, value, context, record?.updatedAt ?? null);
          reports.push({ ...t, origin: 'here', session: { ...info, state: t.to.split('.')[0] as SessionState } });
        }
      }
      this.settleWaiters(key, { record, context: context ?? null });
    }
    for (const [key, current] of result.conflicts) {
      const before = this.records.get(key);
      this.dropKey(key, 'changed by another process');
      if (current) this.adoptRecord(key, current);
      this.reportFromFile(key, before, current ?? undefined);
    }
    // The file as written also carries what other processes changed on other keys: our store now
    // takes that file for seen (changed() is false), so the view must include their changes too.
    this.commitsAbsorbed += 1;
    this.absorb(result.document, new Set(batch.keys()));
    for (const report of reports) this.report(report);
  }

  private report(event: TransitionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the transition is durable either way.
      }
    }
  }

  /**
   * A change another process made, seen in the file: reported so a long-running engine (watch, a
   * daemon) hears of spawns and ends made by CLI calls. Steps it did not see in between (its
   * `spawning`, say) are folded into one transition; it is durable already.
   */
  private reportFromFile(key: string, before: SessionRecord | undefined, after: SessionRecord | undefined): void {
    const from = before ? stateString(before.snapshot.value) : 'normal';
    const to = after ? stateString(after.snapshot.value) : 'normal';
    const last = after ?? before;
    if (from === to || !last) return;
    const { context } = last.snapshot;
    this.report({
      key,
      sessionId: context.sessionId,
      from,
      to,
      event: 'state-file',
      at: after?.updatedAt ?? new Date().toISOString(),
      origin: 'elsewhere',
      session: { ...sessionInfo(key, last.snapshot.value, context, after?.updatedAt ?? null), state: to.split('.')[0] as SessionState },
    });
  }

  private settleWaiters(key: string, outcome: Durable): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.key !== key || !waiter.test(outcome.record)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(outcome);
    }
  }

  /** Resolves at the first durable write of `key` (after this call) that passes `test`. */
  private nextDurable(key: string, test: Waiter['test']): Promise<Durable> {
    return new Promise((resolve, reject) => {
      this.waiters.add({ key, test, resolve, reject });
    });
  }

  // ---------------------------------------------------------------- services (the machine's I/O)

  /** Invariant 4: no tagged window before the `spawning` record that names it is durable here. */
  private async claimLaunch(key: string, sessionId: string): Promise<void> {
    const mine = (record: SessionRecord | null) =>
      record !== null &&
      topState(record.snapshot.value) === 'spawning' &&
      record.snapshot.context.sessionId === sessionId &&
      record.owner?.pid === process.pid &&
      record.owner.host === HOST;
    if (mine(this.records.get(key) ?? null) && !this.pending.has(key)) return;
    await this.nextDurable(key, mine);
  }

  private async launch(input: LaunchInput, signal: AbortSignal): Promise<LaunchOutput> {
    await this.claimLaunch(input.key, input.sessionId);
    const { spec, sessionId, key } = input;
    const vars = { sessionId, key };
    const resumeCommand = spec.resumeCommand ? [substitute(spec.resumeCommand, vars)] : null;
    const command = input.launch !== 'create' && resumeCommand ? resumeCommand : spec.command.map((a) => substitute(a, vars));
    const env = { ...spec.env, WARDEN_SESSION_ID: sessionId, WARDEN_KEY: key };
    try {
      // Invariant 2: a launch that may have run before (restored snapshot), or whose session's
      // window may be there again (respawn; relaunch of an orphan whose window came back since
      // the last probe), adopts the window carrying its id instead of creating a second one.
      const mayExist = this.resumedLaunches.has(sessionId) || input.launch !== 'create';
      const owned = mayExist ? await this.tmux.findOwned(sessionId, { signal }) : [];
      this.resumedLaunches.delete(sessionId);
      const pane = owned.find((p) => p.paneId === input.paneId) ?? owned[0];
      if (pane && !(input.launch === 'respawn' && pane.dead)) return windowOutput(pane);
      const ref = pane
        ? await this.tmux.respawnPane(pane.paneId, command, { cwd: spec.cwd, env }, { signal })
        : await this.tmux.launchWindow(
            { group: spec.group, name: key, sessionId, command, cwd: spec.cwd, env },
            { signal },
          );
      if (mayExist && !pane) {
        // The process that died may have left its tmux client running: its window can land just
        // after our look. It carries our id, so it is ours: keep the one the record will name.
        await this.tmux.killOwnedWindows(sessionId, { signal, keep: ref.windowId }).catch(() => undefined);
      }
      return { ...ref, dead: false, exitStatus: null };
    } catch (err) {
      if (signal.aborted) throw toErrorData(err, 'TMUX_FAILED');
      // Rollback: no window may carry the id of a session that did not come up.
      const rolledBack = await this.tmux.killOwnedWindows(sessionId).then(
        () => true,
        () => false,
      );
      if (!rolledBack) await this.leaveSpawning(key, sessionId, toErrorData(err, 'TMUX_FAILED'), signal);
      throw toErrorData(err, 'TMUX_FAILED');
    }
  }

  /**
   * tmux failed (a timeout, typically) and did not answer the rollback either: the window may
   * exist. Rolling back to `normal` would drop the record of a window that may be there, so the
   * record stays `spawning` and the launch is left to whoever opens the file next (after the lease
   * when this process lives on), which adopts the window or creates it once. The caller hears now.
   */
  private async leaveSpawning(key: string, sessionId: string, error: ErrorData, signal: AbortSignal): Promise<void> {
    const unconfirmed = new WardenError(
      'TMUX_FAILED',
      `spawn of ${key} is unconfirmed: tmux did not answer (${error.message}); it stays spawning and the next 'warden ls' finishes it`,
      { stderr: error.stderr },
    );
    for (const waiter of [...this.waiters]) {
      if (waiter.key !== key) continue;
      this.waiters.delete(waiter);
      waiter.reject(unconfirmed);
    }
    this.resumedLaunches.add(sessionId);
    this.parkedLaunches.add(key);
    try {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    } finally {
      this.parkedLaunches.delete(key);
    }
  }

  /**
   * No window is killed before the `ending` record that says so is durable here: killed first, a
   * concurrent probe elsewhere would see the window gone, orphan the record, and our end would
   * then lose the race with the window already dead.
   */
  private async claimCleanup(sessionId: string): Promise<void> {
    const key = [...this.actors].find(([, actor]) => {
      const { value, context } = actor.getSnapshot();
      return topState(value) === 'ending' && context.sessionId === sessionId;
    })?.[0];
    if (key === undefined) return;
    // Whoever wrote it: a retried cleanup (RETRY) may finish what a failed one recorded.
    const durable = (record: SessionRecord | null) =>
      record !== null && topState(record.snapshot.value) === 'ending' && record.snapshot.context.sessionId === sessionId;
    if (durable(this.records.get(key) ?? null) && !this.pending.has(key)) return;
    await this.nextDurable(key, durable);
  }

  private async cleanup(input: CleanupInput, signal: AbortSignal): Promise<void> {
    await this.claimCleanup(input.sessionId);
    try {
      await this.tmux.killOwnedWindows(input.sessionId, { signal });
    } catch (err) {
      throw toErrorData(err, 'TMUX_FAILED');
    }
  }

  // ---------------------------------------------------------------- public API

  private dispatch(key: string, event: SessionEvent): void {
    this.actorFor(key).send(event);
  }

  private stateOf(key: string): string {
    const actor = this.actors.get(key);
    if (actor) return stateString(actor.getSnapshot().value);
    const snapshot = this.currentSnapshot(key);
    return snapshot ? stateString(snapshot.value) : 'normal';
  }

  /**
   * The inert actor scope pure transitions run in, made once: xstate's own `transition()` makes a
   * new actor for every call, which is most of the cost at 10,000 keys. Actions are collected, not
   * run: a transition that has any (the machine's are all `assign`s, applied in place) is refused.
   */
  private pureScope(): { scope: AnyActorScope; actions: ExecutableActionObject[] } {
    if (this.inertScope) return this.inertScope;
    const self = createActor(this.machine, { input: { key: 'pure-transition' } });
    const actions: ExecutableActionObject[] = [];
    const scope = {
      self,
      id: '',
      sessionId: '',
      system: self.system,
      defer: () => undefined,
      emit: () => undefined,
      logger: () => undefined,
      stopChild: () => undefined,
      actionExecutor: (action: ExecutableActionObject) => void actions.push(action),
    } as unknown as AnyActorScope;
    this.inertScope = { scope, actions };
    return this.inertScope;
  }

  /** A key without an actor: its pure next snapshot not yet written, else its durable one. */
  private currentSnapshot(key: string): PersistedSnapshot | undefined {
    return this.pending.get(key)?.snapshot ?? this.records.get(key)?.snapshot;
  }

  /**
   * Takes a probe event for a key that has no actor without creating one, when the event can only
   * lead to a state at rest: a pure transition of the machine itself (the same table, the same
   * actions), queued for the next coalesced write like any actor's snapshot. Rehydrating 10,000
   * sessions whose windows vanished then costs 10,000 pure steps, not 10,000 live actors.
   * Returns false when an actor is needed after all (the caller dispatches to one).
   */
  private probeStep(key: string, event: SessionEvent, at: string): boolean {
    if (this.actors.has(key) || !RESTING_EVENTS.has(event.type)) return false;
    const current = this.currentSnapshot(key);
    if (!current || current.status !== 'active') return false;
    const from = stateString(current.value);
    if (!RESTING_STATES.has(from)) return false;
    const resolved = this.machine.resolveState({ value: current.value as never, context: current.context as never });
    const scope = this.pureScope();
    scope.actions.length = 0;
    const next = this.machine.transition(resolved, event, scope.scope);
    const actions = scope.actions;
    const to = stateString(next.value);
    if (actions.length > 0 || next.status !== 'active' || !RESTING_STATES.has(to)) return false;
    if (to === from && next.context === resolved.context) return true;
    const entry = this.pendingFor(key);
    entry.snapshot = this.machine.getPersistedSnapshot(next) as unknown as PersistedSnapshot;
    if (to !== from) {
      entry.transitions.push({ key, sessionId: next.context.sessionId, from, to, event: event.type, at });
    }
    this.scheduleFlush();
    return true;
  }

  private assertUsable(key: string): void {
    const problem = this.problems.get(key);
    if (problem) {
      throw new WardenError(
        'SNAPSHOT_INVALID',
        `${key} cannot be loaded from ${this.stateFile} (${problem.message}): run 'warden doctor'`,
      );
    }
    const record = this.records.get(key);
    if (record && this.busyElsewhere(record)) {
      throw new ConflictError(
        `${key} is ${topState(record.snapshot.value)} in process ${record.owner?.pid}: try again when it finishes`,
      );
    }
  }

  private buildSpec(key: string, options: SpawnOptions, stored: LaunchSpec | null): LaunchSpec {
    const parsed = LaunchSpecSchema.safeParse({
      command: options.command && options.command.length ? options.command : stored?.command ?? [],
      // tmux runs the program from its server's directory: a relative --cwd means the caller's.
      cwd: options.cwd ? resolvePath(options.cwd) : stored?.cwd ?? null,
      env: options.env ?? stored?.env ?? {},
      labels: options.labels ?? stored?.labels ?? {},
      group: options.group ?? stored?.group ?? this.group,
      resumeCommand: options.resumeCommand ?? stored?.resumeCommand ?? null,
    });
    if (!parsed.success) throw new InvalidInputError(specIssue(key, parsed.error));
    const spec = parsed.data;
    if (spec.command[0]!.trim() === '') {
      throw new InvalidInputError(`spawn ${key}: the command is empty: name a program after --`);
    }
    if (spec.cwd !== null) {
      let isDir = false;
      try {
        isDir = statSync(spec.cwd).isDirectory();
      } catch {
        isDir = false;
      }
      if (!isDir) throw new InvalidInputError(`--cwd ${spec.cwd} is not a directory: create it or pass an existing one`);
    }
    return spec;
  }

  /**
   * Starts, resumes or restarts the session of `key`, resolving when it is active (durable) and
   * rejecting with a `WardenError` when it cannot be (conflict, not found, tmux failure).
   */
  async spawn(key: string, options: SpawnOptions = {}): Promise<SessionInfo> {
    this.assertOpen();
    validateKey(key);
    const modeParsed = SpawnModeSchema.safeParse(options.mode ?? 'normal');
    if (!modeParsed.success) {
      throw new InvalidInputError(`unknown mode ${JSON.stringify(options.mode)}: use normal, resume or fresh`);
    }
    const mode = modeParsed.data;
    await this.sync();
    this.assertUsable(key);
    const state = this.stateOf(key);
    const top = state.split('.')[0]!;
    const stored = this.records.get(key)?.snapshot.context.spec ?? null;
    if (mode === 'normal' && top !== 'normal') {
      throw new ConflictError(`${key} is ${top}: use --mode resume to attach or --mode fresh to restart`);
    }
    if (mode === 'resume' && top === 'normal') {
      throw new NotFoundError(`no session ${key} to resume: spawn it with --mode normal`);
    }
    if (mode === 'resume') {
      // A resume keeps what the session was started with; ignoring what was asked would be silent.
      const given = (['command', 'cwd', 'env', 'labels', 'group'] as const).filter((name) =>
        name === 'command' ? (options.command?.length ?? 0) > 0 : options[name] !== undefined && options[name] !== null,
      );
      if (given.length > 0) {
        throw new InvalidInputError(
          `--mode resume keeps the stored ${given.join(', ')} of ${key}: use --mode fresh to change them (only --resume-command may be given)`,
        );
      }
    }
    if (top === 'spawning' || top === 'ending') {
      throw new ConflictError(`${key} is ${top}: try again when it finishes, or end it with 'warden end ${key}'`);
    }
    // A fresh restart may reuse the stored command, as `pm2 restart` does; a new session needs one.
    if (!stored && !(options.command && options.command.length)) {
      throw new InvalidInputError(`spawn ${key}: a command is required after --`);
    }
    const spec = this.buildSpec(key, mode === 'resume' ? { resumeCommand: options.resumeCommand } : options, stored);

    const currentId = this.records.get(key)?.snapshot.context.sessionId ?? null;
    const sessionId = mode === 'resume' && currentId ? currentId : randomUUID();
    const spawnEvent: SessionEvent = { type: 'SPAWN', mode, sessionId, spec, at: new Date().toISOString() };
    if (mode === 'resume' && state === 'active.running') {
      // An attach: the machine takes it without changing anything, so nothing is written.
      this.dispatch(key, spawnEvent);
      return this.require(key);
    }
    const failedCleanup = (record: SessionRecord) =>
      topState(record.snapshot.value) === 'ending' && record.snapshot.context.error !== null;
    const settled = this.nextDurable(
      key,
      (record) =>
        record === null ||
        failedCleanup(record) ||
        (topState(record.snapshot.value) === 'active' && record.snapshot.context.sessionId === sessionId),
    );
    this.dispatch(key, spawnEvent);
    const { record, context } = await settled;
    if (record === null) {
      const failed = context?.error ?? { code: 'SPAWN_FAILED', message: 'the window did not come up', stderr: '' };
      throw new WardenError('SPAWN_FAILED', `spawn of ${key} failed: ${failed.message}`, { stderr: failed.stderr });
    }
    if (failedCleanup(record)) {
      // A fresh restart whose old window could not be cleaned up: the new session waits in context.
      const error = record.snapshot.context.error!;
      throw new WardenError(
        'TMUX_FAILED',
        `could not end the old session of ${key} (${error.message}): it stays ending and the restart is retried on the next 'warden ls'`,
        { stderr: error.stderr },
      );
    }
    return sessionInfo(key, record.snapshot.value, record.snapshot.context, record.updatedAt);
  }

  /** Ends a session: kills only the window carrying its id, removes the record, keeps history. */
  async end(key: string): Promise<SessionInfo> {
    return (await this.endSession(key, () => true))!;
  }

  /** `end`, but only if the session (as now in the file) passes `accept`; null when it did not. */
  private async endSession(key: string, accept: (current: SessionInfo) => boolean): Promise<SessionInfo | null> {
    this.assertOpen();
    validateKey(key);
    await this.sync();
    this.assertUsable(key);
    const before = this.get(key);
    if (!before) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
    if (!accept(before)) return null;
    if (before.state === 'spawning') {
      throw new ConflictError(`${key} is spawning: try again when it is active`);
    }
    const failedEnd = (record: SessionRecord | null) =>
      record !== null && topState(record.snapshot.value) === 'ending' && record.snapshot.context.error !== null;
    // A retried cleanup of a fresh restart goes on to spawn the new session instead of ending.
    const restarted = (record: SessionRecord | null) => record !== null && topState(record.snapshot.value) !== 'ending';
    const settled = this.nextDurable(key, (record) => record === null || failedEnd(record) || restarted(record));
    this.dispatch(key, before.state === 'ending' ? { type: 'RETRY' } : { type: 'END' });
    const { record } = await settled;
    if (restarted(record)) {
      throw new ConflictError(`${key} went on with its pending --mode fresh restart instead: run 'warden end ${key}' again once it is active`);
    }
    if (record) {
      const error = record.snapshot.context.error!;
      throw new WardenError(
        'TMUX_FAILED',
        `could not clean up ${key} (${error.message}): it stays ending and is retried on the next 'warden ls'`,
        { stderr: error.stderr },
      );
    }
    return { ...before, state: 'normal', updatedAt: new Date().toISOString() };
  }

  /** The session of `key` as last made durable, or undefined. Does not reconcile. */
  get(key: string): SessionInfo | undefined {
    const record = this.records.get(key);
    if (!record || this.problems.has(key)) return undefined;
    return sessionInfo(key, record.snapshot.value, record.snapshot.context, record.updatedAt);
  }

  private require(key: string): SessionInfo {
    this.assertUsable(key);
    const info = this.get(key);
    if (!info) throw new NotFoundError(`no session ${key}: 'warden ls' lists them`);
    return info;
  }

  /**
   * Every session, sorted by key; with `labels`, only those carrying every one of them (AND).
   * Does not reconcile: call `reconcile()` first for the truth.
   */
  list(filter: { labels?: Record<string, string> | undefined } = {}): SessionInfo[] {
    const wanted = Object.entries(filter.labels ?? {});
    return [...this.records.keys()]
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
    const orphaned = this.list().filter((info) => info.state === 'orphaned');
    if (options.dryRun) return { sessions: orphaned, failed: [] };
    const result: GcResult = { sessions: [], failed: [] };
    for (const info of orphaned) {
      try {
        const ended = await this.endSession(info.key, (current) => current.state === 'orphaned' && current.sessionId === info.sessionId);
        if (ended) result.sessions.push(ended);
      } catch (err) {
        result.failed.push({ key: info.key, error: toErrorData(err) });
      }
    }
    return result;
  }

  /** Records that could not be rehydrated, for `doctor`. */
  snapshotProblems(): SnapshotProblem[] {
    return [...this.problems.values()];
  }

  /**
   * One probe of everything (one tmux process), then each session is told what tmux shows.
   * An unknown answer (timeout, unexpected error) changes nothing.
   */
  async reconcile(): Promise<ReconcileResult> {
    this.assertOpen();
    await this.sync();
    const probe = await this.tmux.probeAll({ timeoutMs: this.probeTimeoutMs });
    if (probe.kind === 'unknown') return { probe: 'unknown', transitions: [], exitsPending: 0, error: probe.error.toData() };
    // Closed while tmux answered: act on nothing (a reconcile in flight when close() is called).
    if (this.closed) return { probe: probe.kind, transitions: [], exitsPending: 0 };
    // tmux answers again: a launch this process left unconfirmed is taken over like a dead one's.
    this.releaseParkedLaunches();
    // Only now that tmux answered: a resumed spawn or cleanup without tmux would roll back a record.
    this.resumeAbandoned();
    const panes = probe.kind === 'ok' ? probe.panes : [];
    const inGroup = panes.filter((p) => p.sessionName === this.group);
    this.groupSeen = {
      exists: inGroup.length > 0,
      taggedWindows: [...new Set(inGroup.filter((p) => p.tag).map((p) => p.windowId))],
    };
    const byTag = new Map<string, PaneRecord[]>();
    for (const pane of panes) {
      if (!pane.tag) continue;
      const list = byTag.get(pane.tag) ?? [];
      list.push(pane);
      byTag.set(pane.tag, list);
    }
    const transitions: TransitionEvent[] = [];
    const collect: TransitionListener = (event) => transitions.push(event);
    let exitsPending = 0;
    this.listeners.add(collect);
    try {
      // Everything this probe shows was seen at one moment.
      const at = new Date().toISOString();
      for (const [key, record] of this.records) {
        if (this.problems.has(key)) continue;
        const event = this.probeEvent(key, record, byTag);
        if (event === EXIT_PENDING) exitsPending++;
        else if (event && !this.probeStep(key, event, at)) this.dispatch(key, event);
      }
      await this.settle();
      await this.killDuplicateWindows(byTag);
    } finally {
      this.listeners.delete(collect);
    }
    return { probe: probe.kind, transitions, exitsPending };
  }

  /**
   * Invariant 2 after a crash: a killed process's tmux client may still create its window after
   * another process launched one for the same id. Both carry the id, so both are ours: keep the
   * one the record names, kill the rest. Costs nothing unless the probe showed a duplicate.
   */
  private async killDuplicateWindows(byTag: Map<string, PaneRecord[]>): Promise<void> {
    for (const record of this.records.values()) {
      const { sessionId, windowId } = record.snapshot.context;
      if (!sessionId || !windowId || topState(record.snapshot.value) !== 'active') continue;
      const windows = new Set((byTag.get(sessionId) ?? []).map((p) => p.windowId));
      if (windows.size < 2 || !windows.has(windowId)) continue;
      await this.tmux.killOwnedWindows(sessionId, { keep: windowId }).catch(() => undefined);
    }
  }

  private probeEvent(
    key: string,
    record: SessionRecord,
    byTag: Map<string, PaneRecord[]>,
  ): SessionEvent | typeof EXIT_PENDING | null {
    const actor = this.actors.get(key);
    const stored = this.pending.get(key)?.snapshot ?? record.snapshot;
    const value = actor ? actor.getSnapshot().value : stored.value;
    const context = actor ? actor.getSnapshot().context : stored.context;
    const state = stateString(value);
    const owned = context.sessionId ? byTag.get(context.sessionId) ?? [] : [];
    const pane = owned.find((p) => p.paneId === context.paneId) ?? owned[0];
    switch (state) {
      case 'active.running':
        if (!pane) return { type: 'WINDOW_GONE' };
        // Dead but not reaped yet: its exit status comes with a later probe.
        if (pane.dead) return pane.exitStatus === null ? EXIT_PENDING : { type: 'PANE_EXITED', exitStatus: pane.exitStatus };
        return null;
      case 'active.exited':
        return pane ? null : { type: 'WINDOW_GONE' };
      case 'orphaned':
        return pane ? { type: 'WINDOW_FOUND', window: windowOutput(pane) } : null;
      case 'ending':
        return context.error !== null && !this.busyElsewhere(record) ? { type: 'RETRY' } : null;
      default:
        return null;
    }
  }

  /**
   * Reconciles continuously until `signal` aborts or the engine closes; transitions reach
   * subscribers as they become durable. A tmux control client on the group (plus the pane-died
   * channel) triggers a reconcile the moment a window closes or a pane exits; every `intervalMs`
   * a poll runs anyway while no client is attached (no group yet, old tmux), and every
   * `safetyIntervalMs` while one is. An unknown probe is skipped, never acted on.
   */
  async watch(options: { intervalMs?: number; safetyIntervalMs?: number; signal?: AbortSignal; control?: boolean } = {}): Promise<void> {
    this.assertOpen();
    const intervalMs = options.intervalMs ?? 500;
    const safetyIntervalMs = options.safetyIntervalMs ?? Math.max(intervalMs, 10_000);
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    let changed = false;
    let wake: (() => void) | null = null;
    const events = new TmuxEvents(this.tmux, this.group, () => {
      changed = true;
      wake?.();
    });
    const watcher = { events, stop };
    this.watchers.add(watcher);
    // A tmux that refuses the control client (too old, say) is asked again only now and then.
    let nextAttach = 0;
    try {
      while (!stop.signal.aborted && !this.closed) {
        changed = false;
        const { exitsPending } = await this.reconcile();
        if (options.control !== false && !events.connected && this.groupSeen.exists && Date.now() >= nextAttach) {
          // Windows made before the pane-died hook existed get it now; then listen.
          await this.tmux.hookPaneDeaths(this.groupSeen.taggedWindows).catch(() => undefined);
          if (await events.connect()) continue; // look once more: something may have changed meanwhile
          nextAttach = Date.now() + safetyIntervalMs;
        }
        if (changed || stop.signal.aborted) continue;
        const wait = events.connected ? safetyIntervalMs : intervalMs;
        // tmux reports a pane dead (and fires pane-died) before it has its exit status: look again soon.
        const until = Date.now() + (exitsPending > 0 ? Math.min(wait, EXIT_RECHECK_MS) : wait);
        // tmux 3.3a sometimes marks a pane dead without reaping its process or firing pane-died,
        // so no notification comes: between them, look at the running panes' processes locally,
        // a bounded batch per tick so the cost stays flat however many sessions there are.
        const running = this.runningPids();
        let cursor = 0;
        while (!changed && !stop.signal.aborted && Date.now() < until) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, Math.min(until - Date.now(), PROCESS_CHECK_MS));
            function done() {
              clearTimeout(timer);
              stop.signal.removeEventListener('abort', done);
              wake = null;
              resolve();
            }
            wake = done;
            stop.signal.addEventListener('abort', done, { once: true });
          });
          if (!events.connected || running.length === 0) continue;
          const batch = Math.min(running.length, PROCESS_CHECK_BATCH);
          const ended = Array.from({ length: batch }, (_, i) => running[(cursor + i) % running.length]!).some(processEnded);
          cursor = (cursor + batch) % running.length;
          if (ended) break;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.watchers.delete(watcher);
      await events.close();
    }
  }

  /** The pids of the programs of running sessions, as last made durable. */
  private runningPids(): number[] {
    const pids: number[] = [];
    for (const { snapshot } of this.records.values()) {
      if (snapshot.context.pid !== null && stateString(snapshot.value) === 'active.running') pids.push(snapshot.context.pid);
    }
    return pids;
  }

  /** Waits until every pending change is durable and every in-flight service has settled. */
  async settle(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.flush();
      // The changes stay queued for a later write; whoever waits to see them durable hears why now.
      if (this.flushError !== null && this.pending.size > 0) throw this.flushError;
      const inFlight = [...this.actors].some(([key, actor]) => {
        if (this.parkedLaunches.has(key)) return false;
        const { value, context } = actor.getSnapshot();
        const state = topState(value);
        return state === 'spawning' || (state === 'ending' && context.error === null);
      });
      if (!inFlight && this.pending.size === 0 && !this.flushScheduled) return;
      if (inFlight) await new Promise((resolve) => setTimeout(resolve, 5));
    }
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
    await this.tmux.sendText(info.paneId!, text.replaceAll('\r\n', '\n'), options);
  }

  /** The pane's screen and up to `lines` lines of scrollback. */
  async capture(key: string, options: { lines?: number } = {}): Promise<string> {
    const info = await this.activePane(key);
    return this.tmux.capturePane(info.paneId!, options);
  }

  private async activePane(key: string): Promise<SessionInfo> {
    this.assertOpen();
    validateKey(key);
    await this.sync();
    const info = this.require(key);
    if (info.state !== 'active' || !info.paneId) {
      throw new ConflictError(`${key} is ${info.state}, not active: resume it with 'warden spawn ${key} --mode resume'`);
    }
    // Pane ids restart with a tmux server: type into (or read) a pane only while it carries our
    // tag, never into whatever pane now has the recorded id.
    const owned = await this.tmux.findOwned(info.sessionId!);
    if (!owned.some((p) => p.paneId === info.paneId)) {
      throw new ConflictError(`${key}'s window is gone: 'warden ls' shows it orphaned; resume it with 'warden spawn ${key} --mode resume'`);
    }
    return info;
  }

  /**
   * Whether a client whose `$TMUX` is `tmuxEnv` runs on this engine's tmux server: only then can
   * it `switch-client`; a client of another server attaches (nested) instead.
   */
  async clientOnServer(tmuxEnv: string | undefined = process.env.TMUX): Promise<boolean> {
    if (!tmuxEnv) return false;
    const ours = await this.tmux.socketPath().catch(() => null);
    return ours !== null && tmuxEnv.split(',')[0] === ours;
  }

  /** argv that shows the session's window to a person (switch-client inside tmux). */
  attachCommand(key: string, insideTmux = Boolean(process.env.TMUX)): string[] {
    const info = this.require(key);
    if (info.state !== 'active' || !info.windowId) {
      throw new ConflictError(`${key} is ${info.state}, not active: resume it with 'warden spawn ${key} --mode resume'`);
    }
    return this.tmux.attachCommand(info.windowId, insideTmux);
  }

  /** Ended sessions, oldest first; only those of `key` when given. */
  async history(key?: string): Promise<HistoryEntry[]> {
    // Read as a sync does: a read that left the view behind would make the next sync() see no
    // change and miss what other processes wrote.
    let history: HistoryEntry[] = [];
    await this.syncs.run(async () => {
      history = (await this.syncOnce(true))!.history;
    });
    return key ? history.filter((h) => h.key === key) : history;
  }

  /** Hears every transition once it is durable. Returns the function that stops listening. */
  subscribe(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Ends a running `watch`, writes what is pending, stops every actor (a spawn still in flight
   * resumes on the next open) and drops the listeners. The state file's lock is only ever held
   * inside a write, so nothing stays locked. Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watcher of this.watchers) watcher.stop.abort();
    await Promise.all([...this.watchers].map((watcher) => watcher.events.close()));
    await this.flush().catch(() => undefined);
    for (const [key, actor] of this.actors) {
      this.actors.delete(key);
      actor.stop();
    }
    for (const waiter of this.waiters) waiter.reject(new WardenError('STATE_IO', 'the engine was closed'));
    this.waiters.clear();
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new WardenError('STATE_IO', 'the engine is closed: create a new one');
  }
}

/** Runs tasks one at a time: a task starts only once the one before it has settled. */
class OneAtATime {
  private running: Promise<void> | null = null;

  async run(task: () => Promise<void>): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    const run = task();
    this.running = run;
    try {
      await run;
    } finally {
      if (this.running === run) this.running = null;
    }
  }
}

function isInFlightSnapshot(snapshot: PersistedSnapshot): boolean {
  const state = topState(snapshot.value);
  return state === 'spawning' || state === 'ending';
}

function windowOutput(pane: PaneRecord): LaunchOutput {
  return { windowId: pane.windowId, paneId: pane.paneId, pid: pane.pid, dead: pane.dead, exitStatus: pane.exitStatus };
}

/**
 * Opens an engine on a state file: rehydrates every session (resuming work a dead process left
 * in `spawning` or `ending`), then reconciles once with tmux. Close it with `close()`.
 * @throws StateFileError when the state file cannot be read or does not validate (it is left as
 * it is); a WardenError from tmux when the first reconcile cannot run. Nothing is left running.
 */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = new Engine(options);
  try {
    // Abandoned spawns and cleanups are resumed by the first reconcile that reaches tmux: resumed
    // without tmux (missing from PATH), a launch would fail and roll its record back.
    await engine.open({ resume: false });
    if (options.reconcileOnOpen !== false) await engine.reconcile();
  } catch (err) {
    // Work resumed while opening must not outlive an engine nobody will get to close.
    await engine.close().catch(() => undefined);
    throw err;
  }
  return engine;
}
