/**
 * Write-behind: the changes not yet durable, written in one locked commit per tick; the callers
 * waiting for a key's change to become durable; and the listeners that hear each transition
 * only once it is (invariant 5: persist before report).
 */
import { historyEntryFor } from '../../machines/history.js';
import { isNormal, stateString } from '../../machines/paths.js';
import { SESSION_MACHINE_VERSION } from '../../machines/session.js';
import { ConflictError } from '../model/errors.js';
import type { HistoryEntry, OutboxEntry, PersistedSnapshot, RecordOwner, SessionRecord } from '../model/schema.js';
import { SerialQueue } from '../model/serial-queue.js';
import type { CommitOp, SessionStore } from '../store/store.js';
import type { ActorPool, ActorStep } from './actor-pool.js';
import type { DurableView } from './durable-view.js';
import type { Outbox } from './outbox.js';
import { sessionInfo, topStateOf } from './session-info.js';
import type { TransitionEvent, TransitionListener } from './types.js';

/** A durable write of one key: the record now in the file (null when removed) and the context it ended with. */
export interface Durable {
  record: SessionRecord | null;
  context: SessionRecord['snapshot']['context'] | null;
}

type Transition = Omit<TransitionEvent, 'session' | 'origin'>;

interface Pending {
  history: HistoryEntry[];
  transitions: Transition[];
  /** The next snapshot of a key that has no actor, computed by a pure step. */
  snapshot?: PersistedSnapshot | undefined;
}

interface Waiter {
  key: string;
  test: (record: SessionRecord | null) => boolean;
  resolve: (outcome: Durable) => void;
  reject: (err: unknown) => void;
}

export interface WriteBehindOptions {
  store: SessionStore;
  view: DurableView;
  pool: ActorPool;
  /** The group named in history entries of sessions that never had a spec. */
  group: string;
  /** The session's durable log, named in its session object and kept in its history entry. */
  logFileOf: (key: string, sessionId: string | null) => string | null;
  /** Who this process is, stamped on records whose service it runs. */
  owner: () => RecordOwner;
  /** Our commit lost to another process's change of `key`: forget ours, take theirs. */
  onConflict: (key: string, before: SessionRecord | undefined, current: SessionRecord | null) => void;
  /** Where the transitions its consumer wants are written with them (invariant 14). */
  outbox?: Outbox | undefined;
  /** Whether the engine's machine runs a service in a state: then the record names its owner. */
  runsService: (value: unknown) => boolean;
}

export class WriteBehind {
  private readonly pending = new Map<string, Pending>();
  private readonly waiters = new Set<Waiter>();
  private readonly listeners = new Set<TransitionListener>();
  private readonly flushes = new SerialQueue();
  private flushScheduled = false;
  /**
   * A commit is under way: its changes have left `pending` but are not durable yet. A flush
   * queued behind another one (a scheduled flush behind a caller's) takes the changes made
   * meanwhile, so the caller's flush can end while they are still being written.
   */
  private writing = false;
  /** Why the last commit failed (disk full, read-only, lock); null once one succeeds. */
  private flushError: unknown = null;

  constructor(private readonly options: WriteBehindOptions) {}

  private info(key: string, value: unknown, context: SessionRecord['snapshot']['context'], updatedAt: string | null) {
    return sessionInfo(key, value, context, updatedAt, this.options.logFileOf(key, context.sessionId));
  }

  /** A key with a change not yet durable. */
  isPending(key: string): boolean {
    return this.pending.has(key);
  }

  /** Nothing waits to be written, no write is scheduled, and none is under way. */
  get idle(): boolean {
    return this.pending.size === 0 && !this.flushScheduled && !this.writing;
  }

  /** The pure step's snapshot of a key without an actor, not yet written. */
  pendingSnapshot(key: string): PersistedSnapshot | undefined {
    return this.pending.get(key)?.snapshot;
  }

  /** An actor's step: queued for the next write, its transition and history entry with it. */
  takeStep(step: ActorStep): void {
    const entry = this.pendingFor(step.key);
    if (step.from !== step.to) {
      const at = new Date().toISOString();
      entry.transitions.push({ key: step.key, sessionId: step.after.context.sessionId, from: step.from, to: step.to, event: step.event, at });
      if (step.before) {
        const history = historyEntryFor(step.before, step.after, at, this.options.group);
        if (history) entry.history.push({ ...history, logFile: this.options.logFileOf(history.key, history.sessionId) });
      }
    }
    this.schedule();
  }

  /** A pure step of a key without an actor, queued like an actor's. */
  takePureStep(key: string, snapshot: PersistedSnapshot, transition: Transition | null): void {
    const entry = this.pendingFor(key);
    entry.snapshot = snapshot;
    if (transition) entry.transitions.push(transition);
    this.schedule();
  }

  /** Writes the key's current snapshot (with this process as its owner) on the next flush. */
  queueWrite(key: string): void {
    this.pendingFor(key);
    this.schedule();
  }

  /** Drops what is pending for `key` and fails whoever waits for it, naming `reason`. */
  forget(key: string, reason: string): void {
    this.pending.delete(key);
    this.rejectWaiters(key, new ConflictError(`${key} was ${reason}: run the command again`));
  }

  rejectWaiters(key: string | null, err: unknown): void {
    for (const waiter of [...this.waiters]) {
      if (key !== null && waiter.key !== key) continue;
      this.waiters.delete(waiter);
      waiter.reject(err);
    }
  }

  /** Resolves at the first durable write of `key` (after this call) that passes `test`. */
  whenDurable(key: string, test: Waiter['test']): Promise<Durable> {
    return new Promise((resolve, reject) => {
      this.waiters.add({ key, test, resolve, reject });
    });
  }

  /** Writes every pending change in one locked commit; a flush already running is waited for. */
  async flush(): Promise<void> {
    await this.flushes.run(async () => {
      if (this.pending.size > 0) await this.writePending();
    });
  }

  /** The last commit failed and changes still wait: whoever waits to see them durable hears why. */
  throwIfStuck(): void {
    if (this.flushError !== null && this.pending.size > 0) throw this.flushError;
  }

  subscribe(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clearListeners(): void {
    this.listeners.clear();
  }

  report(event: TransitionEvent): void {
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
  reportFromFile(key: string, before: SessionRecord | undefined, after: SessionRecord | undefined): void {
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
      session: { ...this.info(key, last.snapshot.value, context, after?.updatedAt ?? null), state: topStateOf(to) },
    });
  }

  private pendingFor(key: string): Pending {
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { history: [], transitions: [] };
      this.pending.set(key, entry);
    }
    return entry;
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  private commitOps(batch: Map<string, Pending>): CommitOp[] {
    const { view, pool, outbox } = this.options;
    const owner = this.options.owner();
    const ops: CommitOp[] = [];
    for (const [key, entry] of batch) {
      const known = view.record(key);
      const expect = known ? { rev: known.rev, updatedAt: known.updatedAt } : null;
      const actor = pool.get(key);
      const snapshot = actor ? (actor.getPersistedSnapshot() as unknown as PersistedSnapshot) : entry.snapshot;
      if (!snapshot) continue;
      const normal = isNormal(snapshot.value);
      if (normal && !known && entry.history.length === 0) continue;
      const info = outbox && this.info(key, snapshot.value, snapshot.context, null);
      ops.push({
        key,
        expect,
        record: normal
          ? null
          : { machineVersion: SESSION_MACHINE_VERSION, snapshot, owner: this.options.runsService(snapshot.value) ? owner : null },
        history: entry.history,
        // The hooks of these transitions, queued in the same write as the transitions themselves.
        outbox: info ? entry.transitions.flatMap((t) => outbox.entryFor({ ...t, session: { ...info, state: topStateOf(t.to) } }) ?? []) : [],
      });
    }
    return ops;
  }

  private async writePending(): Promise<void> {
    const { store, view, pool } = this.options;
    const batch = new Map(this.pending);
    this.pending.clear();
    let result;
    const ops = this.commitOps(batch);
    this.writing = true;
    try {
      result = await store.commit(ops);
    } catch (err) {
      for (const [key, entry] of batch) {
        const again = this.pendingFor(key);
        again.snapshot ??= entry.snapshot;
        again.history.unshift(...entry.history);
        again.transitions.unshift(...entry.transitions);
      }
      for (const key of batch.keys()) this.rejectWaiters(key, err);
      this.flushError = err;
      return;
    } finally {
      // What follows is synchronous: the view holds the result before anyone can look at idle.
      this.writing = false;
    }
    this.flushError = null;
    const reports: TransitionEvent[] = [];
    for (const [key, record] of result.applied) {
      const entry = batch.get(key);
      const context = record?.snapshot.context ?? pool.get(key)?.getSnapshot().context;
      const value = record?.snapshot.value ?? 'normal';
      view.wrote(key, record);
      if (!record) pool.stop(key);
      if (entry && context) {
        for (const t of entry.transitions) {
          const info = this.info(key, value, context, record?.updatedAt ?? null);
          reports.push({ ...t, origin: 'here', session: { ...info, state: topStateOf(t.to) } });
        }
      }
      this.settle(key, { record, context: context ?? null });
    }
    for (const [key, current] of result.conflicts) this.options.onConflict(key, view.record(key), current);
    view.tookCommit(result.document, new Set(batch.keys()));
    const written: OutboxEntry[] = [];
    for (const op of ops) {
      if (!result.applied.has(op.key)) continue;
      const updatedAt = result.applied.get(op.key)?.updatedAt ?? null;
      for (const e of op.outbox ?? []) written.push({ ...e, transition: { ...e.transition, session: { ...e.transition.session, updatedAt } } });
    }
    this.options.outbox?.written(written, result.trimmed);
    for (const report of reports) this.report(report);
  }

  private settle(key: string, outcome: Durable): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.key !== key || !waiter.test(outcome.record)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(outcome);
    }
  }
}
