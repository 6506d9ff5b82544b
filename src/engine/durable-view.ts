/**
 * The durable view: what the state file holds for each key, as this process last read or wrote
 * it, and the records it could not rehydrate. The one answer to "what is stored for key X?".
 * Reading the file (sync) is here too, one read at a time: two reads applied out of order would
 * leave an older view that `changed()` then takes for current.
 */
import type { AnyStateMachine } from 'xstate';
import { isStateValueOf } from '../../machines/paths.js';
import { withMissingInvocations } from '../../machines/repair.js';
import { SESSION_MACHINE_VERSION } from '../../machines/session.js';
import type { SessionRecord, StateDocument } from '../model/schema.js';
import { SerialQueue } from '../model/serial-queue.js';
import type { SessionStore } from '../store/store.js';
import type { SnapshotProblem } from './types.js';

/** What the view tells its owner when the file shows another process's change to a key. */
export type ExternalChange = (key: string, before: SessionRecord | undefined, after: SessionRecord | undefined) => void;

export class DurableView {
  private readonly records = new Map<string, SessionRecord>();
  private readonly problems = new Map<string, SnapshotProblem>();
  private readonly reads = new SerialQueue();
  /** Commit results taken in: a read that overlapped one may be older than it. */
  private commitsTaken = 0;

  constructor(
    private readonly store: SessionStore,
    /** Called for each key another process changed, once the view holds the change. */
    private readonly onExternalChange: ExternalChange,
    /** The engine's machine: what a persisted state value may be, and what its states invoke. */
    private readonly machine: AnyStateMachine,
  ) {}

  /** The stored record of `key`, usable or not. */
  record(key: string): SessionRecord | undefined {
    return this.records.get(key);
  }

  /** Every stored key with its record. */
  entries(): IterableIterator<[string, SessionRecord]> {
    return this.records.entries();
  }

  keys(): string[] {
    return [...this.records.keys()];
  }

  problem(key: string): SnapshotProblem | undefined {
    return this.problems.get(key);
  }

  allProblems(): SnapshotProblem[] {
    return [...this.problems.values()];
  }

  /** Marks a key whose actor failed: it is reported, not used. */
  setProblem(key: string, message: string): void {
    this.problems.set(key, { key, message });
  }

  /** Takes `record` as what the file holds for `key`, judging whether it can be rehydrated. */
  adopt(key: string, record: SessionRecord): void {
    this.problems.delete(key);
    // In flight with its service missing from the snapshot: put it back, or it never progresses.
    const restored = withMissingInvocations(record.snapshot, this.machine);
    const problem = restored === 'underivable' ? stuckProblem(record) : rehydrationProblem(record, (value) => isStateValueOf(this.machine, value));
    this.records.set(key, restored && restored !== 'underivable' ? { ...record, snapshot: restored } : record);
    if (problem) this.problems.set(key, { key, message: problem });
  }

  /** What our own commit wrote for `key` (null: removed). */
  wrote(key: string, record: SessionRecord | null): void {
    if (record) this.records.set(key, record);
    else this.records.delete(key);
  }

  forget(key: string): void {
    this.records.delete(key);
    this.problems.delete(key);
  }

  /** Reads the whole file and takes it in (used when opening). */
  async load(): Promise<StateDocument> {
    const document = await this.store.load();
    for (const [key, record] of Object.entries(document.sessions)) this.adopt(key, record);
    return document;
  }

  /**
   * Reads the file when it changed (always with `force`) and takes it in, one read at a time;
   * returns what was read (null: unchanged).
   */
  async sync(force = false): Promise<StateDocument | null> {
    return this.reads.run(async () => {
      if (!force && !(await this.store.changed())) return null;
      for (;;) {
        const commits = this.commitsTaken;
        const document = await this.store.load();
        // A commit of ours landed while we read: this read may predate it, so read again.
        if (commits !== this.commitsTaken) continue;
        this.takeIn(document);
        return document;
      }
    });
  }

  /**
   * Our commit wrote `document`; it also carries what other processes changed on other keys, and
   * the store now takes that file for seen (changed() is false), so the view must include them.
   */
  tookCommit(document: StateDocument, written: ReadonlySet<string>): void {
    this.commitsTaken += 1;
    this.takeIn(document, written);
  }

  /** Brings the view up to `document` (keys in `skip` are already up to date). */
  private takeIn(document: StateDocument, skip: ReadonlySet<string> = new Set()): void {
    for (const [key, known] of [...this.records]) {
      if (skip.has(key) || key in document.sessions) continue;
      this.forget(key);
      this.onExternalChange(key, known, undefined);
    }
    for (const [key, record] of Object.entries(document.sessions)) {
      if (skip.has(key)) continue;
      const known = this.records.get(key);
      if (known && known.rev === record.rev && known.updatedAt === record.updatedAt) continue;
      this.adopt(key, record);
      this.onExternalChange(key, known, record);
    }
  }
}

/** A record in flight whose service cannot be restarted (no session id or spec to act on). */
function stuckProblem(record: SessionRecord): string {
  return `it is in flight (${JSON.stringify(record.snapshot.value)}) with no service running and none can be restarted (no session id or launch spec): it can never finish`;
}

/** Why a persisted record cannot be rehydrated into an actor, or null. */
function rehydrationProblem(record: SessionRecord, isKnownState: (value: unknown) => boolean): string | null {
  if (record.machineVersion !== SESSION_MACHINE_VERSION) {
    return `written by session machine version ${record.machineVersion}, this is ${SESSION_MACHINE_VERSION}`;
  }
  if (record.snapshot.status === 'error') return 'the persisted actor is in error status';
  if (record.snapshot.status !== 'active') return `the persisted actor is ${record.snapshot.status}`;
  if (!isKnownState(record.snapshot.value)) return `unknown state ${JSON.stringify(record.snapshot.value)}`;
  return null;
}
