/**
 * The seam between the engine and its durable state: what the engine and `doctor` need of a
 * store, so a test can wrap one and a second store (another file, a database) can stand in for
 * the lowdb file, applying the same merge rules (merge.ts).
 */
import type { HistoryEntry, OutboxEntry, RecordOwner, SessionRecord, StateDocument } from '../model/schema.js';

export interface RecordStamp {
  rev: number;
  updatedAt: string;
}

/**
 * A record without its stamp: `{ machineVersion, snapshot }` plus any other field the schema adds
 * (derived from SessionRecordSchema, so new record fields are carried, not stripped).
 */
export type RecordContent = Omit<SessionRecord, 'rev' | 'updatedAt'>;

export interface CommitOp {
  key: string;
  /** The stamp the caller last saw for this key, or null when it believes the key is absent. */
  expect: RecordStamp | null;
  /** New content (store assigns rev = previous rev + 1, or 1 when absent, and updatedAt = now ISO), or null = delete the key. */
  record: RecordContent | null;
  /** Entries appended to `history` only if this op is applied. */
  history?: HistoryEntry[];
  /**
   * Transitions appended to the outbox only if this op is applied (invariant 14: with the
   * transition, in the same write); their session object gets the record's new `updatedAt`.
   */
  outbox?: OutboxEntry[];
}

/** What a commit changes in the outbox besides the entries its ops add. */
export interface OutboxChange {
  /** Who claims and releases: this process. */
  by: RecordOwner;
  /** Delivered entries: removed. */
  remove?: readonly string[];
  /** Entries `by` stops delivering: their owner becomes null, for the next process to take. */
  release?: readonly string[];
  /** Entries `by` took and never began: released too, and their claim no longer counts as an attempt. */
  unclaim?: readonly string[];
  /** Entries to take over, each only while its owner is still `from` (a process now gone); attempts + 1. */
  claim?: readonly { id: string; from: RecordOwner | null }[];
}

export interface CommitResult {
  /** Keys applied: the record now in the file, or null when deleted. */
  applied: Map<string, SessionRecord | null>;
  /** Keys refused because the file's stamp differs from `expect`: what the file holds now (null = absent). */
  conflicts: Map<string, SessionRecord | null>;
  /** The document as written (or as read, if nothing was applied). Shared and frozen: never mutate it. */
  document: StateDocument;
  /** Outbox entries this commit claimed, as written (owned by the claimer). */
  claimed?: OutboxEntry[];
  /** Outbox entries dropped to keep it within OUTBOX_LIMIT, oldest first (never delivered). */
  trimmed?: OutboxEntry[];
}

/**
 * `held`: the lock exists (a writer holds it, or a killed one left it); `stale`: its holder's
 * process is gone, so the next commit takes it over; `ageMs`: how long it has been held, on the
 * monotonic clock (null when unknown: another boot, or a lock that names no holder).
 */
export interface LockState {
  held: boolean;
  stale: boolean;
  ageMs: number | null;
  /** The holder's pid, when the lock names one. */
  holderPid: number | null;
}

export interface RestoredBackup {
  restoredFrom: string;
  /** Where the broken state file was kept, or null when there was none. */
  keptAs: string | null;
  sessions: number;
}

export interface SessionStore {
  /** The state file (absolute), for messages and for `doctor`. */
  readonly path: string;
  /** The last good state file, which `restoreBackup` puts back. */
  readonly backupPath: string;
  readonly lockPath: string;
  /** Number of times this instance wrote the state file (for benchmarks and tests). */
  readonly writeCount: number;
  /** Read and validate; a missing file is an empty document and writes nothing. */
  load(): Promise<StateDocument>;
  /**
   * Applies each op whose `expect` matches what the store holds, and the outbox change, atomically;
   * reports the rest as conflicts.
   */
  commit(ops: CommitOp[], outbox?: OutboxChange): Promise<CommitResult>;
  /** Cheap check whether another writer may have changed the state since this instance last read or wrote it. */
  changed(): Promise<boolean>;
  /** For `doctor`: is a lock held, and is it stale. */
  lockInfo(): Promise<LockState>;
  /** For `doctor --repair`: puts the last good state back in place of a broken one. */
  restoreBackup(): Promise<RestoredBackup>;
}
