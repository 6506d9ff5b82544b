/**
 * The merge rules, free of I/O so any store applies the same ones and a test can state them
 * directly. Writers merge per key: an op applies only if the record is still at the revision the
 * caller last saw, so a stale writer gets a conflict, never a win.
 */
import { InvalidInputError } from '../model/errors.js';
import { HISTORY_LIMIT, HistoryEntrySchema, KeySchema, OUTBOX_LIMIT, OutboxEntrySchema, SCHEMA_VERSION, SessionRecordSchema } from '../model/schema.js';
import type { HistoryEntry, OutboxEntry, RecordOwner, SessionRecord, StateDocument } from '../model/schema.js';
import { describeIssues, oneLine, stateIoError } from './state-file-errors.js';
import type { CommitOp, OutboxChange, RecordContent, RecordStamp } from './store.js';

/**
 * The last line of defence against a bug that would wipe the file: a write may leave zero
 * sessions only if every session the file held was deleted by an applied op.
 */
export function assertNotPromotingEmpty(
  before: StateDocument,
  after: StateDocument,
  deletedKeys: ReadonlySet<string>,
  file = '(state file)',
): void {
  for (const _ in after.sessions) return; // not empty
  let lost = 0;
  for (const key in before.sessions) if (!deletedKeys.has(key)) lost += 1;
  if (lost > 0) {
    throw stateIoError(
      file,
      `refusing to write state file ${file}: it would drop ${lost} session(s) nobody deleted (a bug in tmux-warden; nothing was written)`,
    );
  }
}

function recordAt(sessions: Record<string, SessionRecord>, key: string): SessionRecord | null {
  return Object.hasOwn(sessions, key) ? (sessions[key] ?? null) : null;
}

export function stampMatches(current: SessionRecord | null, expect: RecordStamp | null): boolean {
  if (expect === null) return current === null;
  return current !== null && current.rev === expect.rev && current.updatedAt === expect.updatedAt;
}

/** Now, but strictly after `floorMs`: two writes of a key in one millisecond still get distinct stamps. */
export function stampAfter(floorMs: number, clock: () => number = Date.now): string {
  const now = clock();
  return new Date(Number.isFinite(floorMs) && now <= floorMs ? floorMs + 1 : now).toISOString();
}

const RecordContentSchema = SessionRecordSchema.omit({ rev: true, updatedAt: true });
const HistoryListSchema = HistoryEntrySchema.array();
const OutboxListSchema = OutboxEntrySchema.array();

/** A CommitOp that passed `checkOps`: valid key, record, history and outbox entries, its key alone in its commit. */
export interface CheckedOp {
  key: string;
  expect: RecordStamp | null;
  record: RecordContent | null;
  history: HistoryEntry[];
  outbox: OutboxEntry[];
}

/** Refuses, before anything is locked or written, ops that would make the file invalid. */
export function checkOps(ops: readonly CommitOp[]): CheckedOp[] {
  const keys = new Set<string>();
  return ops.map((op, index) => {
    const where = `commit op ${index} (key ${JSON.stringify(op.key)})`;
    if (!KeySchema.safeParse(op.key).success) throw new InvalidInputError(`${where}: invalid key`);
    if (keys.has(op.key)) throw new InvalidInputError(`${where}: the key appears twice in one commit`);
    keys.add(op.key);
    let record: CheckedOp['record'] = null;
    if (op.record !== null) {
      const parsed = RecordContentSchema.safeParse(op.record);
      if (!parsed.success) throw new InvalidInputError(`${where}: invalid record (${oneLine(describeIssues(parsed.error))})`);
      record = parsed.data;
    }
    let history: HistoryEntry[] = [];
    if (op.history && op.history.length > 0) {
      const parsed = HistoryListSchema.safeParse(op.history);
      if (!parsed.success) throw new InvalidInputError(`${where}: invalid history (${oneLine(describeIssues(parsed.error))})`);
      history = parsed.data;
    }
    let outbox: OutboxEntry[] = [];
    if (op.outbox && op.outbox.length > 0) {
      const parsed = OutboxListSchema.safeParse(op.outbox);
      if (!parsed.success) throw new InvalidInputError(`${where}: invalid outbox entry (${oneLine(describeIssues(parsed.error))})`);
      outbox = parsed.data;
    }
    return { key: op.key, expect: op.expect, record, history, outbox };
  });
}

/**
 * Deleted keys with the last stamp (ms) they had. A key deleted and recreated within the same
 * millisecond would otherwise get its old stamp back, and a writer holding that stamp would win.
 */
export type Tombstones = ReadonlyMap<string, number>;

export interface MergeOptions {
  /** What the previous merges of this store deleted. */
  tombstones?: Tombstones;
  clock?: () => number;
  /** Named in the error when the merge would empty the file. */
  file?: string;
  /** What the commit changes in the outbox besides its ops' entries. */
  outbox?: OutboxChange | undefined;
}

export interface Merge {
  applied: Map<string, SessionRecord | null>;
  conflicts: Map<string, SessionRecord | null>;
  /** The merged document (frozen), or `before` itself when no op applied: then there is nothing to write. */
  document: StateDocument;
  changed: boolean;
  /** The tombstones to pass to the next merge: those still within their millisecond, and this merge's deletions. */
  tombstones: Map<string, number>;
  /** Outbox entries claimed, as written. */
  claimed: OutboxEntry[];
  /** Outbox entries dropped to keep within OUTBOX_LIMIT. */
  trimmed: OutboxEntry[];
}

/**
 * Applies each op whose `expect` matches `before`, stamping records (rev + 1, updatedAt after the
 * previous stamp) and appending their history, trimmed to HISTORY_LIMIT. Throws, rather than
 * return a document, when the result would drop sessions nobody deleted.
 */
export function mergeOps(before: StateDocument, ops: readonly CheckedOp[], options: MergeOptions = {}): Merge {
  const clock = options.clock ?? Date.now;
  const applied = new Map<string, SessionRecord | null>();
  const conflicts = new Map<string, SessionRecord | null>();
  const deleted = new Set<string>();
  const newHistory: HistoryEntry[] = [];
  const newOutbox: OutboxEntry[] = [];
  let sessions: Record<string, SessionRecord> | null = null; // copied on the first applied op

  const now = clock();
  const tombstones = new Map<string, number>();
  for (const [key, ms] of options.tombstones ?? []) if (ms >= now) tombstones.set(key, ms);

  for (const op of ops) {
    const current = recordAt(sessions ?? before.sessions, op.key);
    if (!stampMatches(current, op.expect)) {
      conflicts.set(op.key, current);
      continue;
    }
    sessions ??= Object.assign(Object.create(null) as Record<string, SessionRecord>, before.sessions);
    if (op.record === null) {
      if (current !== null) {
        delete sessions[op.key];
        deleted.add(op.key);
        tombstones.set(op.key, Date.parse(current.updatedAt));
      }
      applied.set(op.key, null);
      newOutbox.push(...op.outbox);
    } else {
      const floor = current !== null ? Date.parse(current.updatedAt) : (tombstones.get(op.key) ?? Number.NaN);
      const record: SessionRecord = Object.freeze({
        rev: (current?.rev ?? 0) + 1,
        updatedAt: stampAfter(floor, clock),
        ...op.record,
      });
      sessions[op.key] = record;
      applied.set(op.key, record);
      // The session object the hooks get is the record as written.
      for (const entry of op.outbox) newOutbox.push({ ...entry, transition: { ...entry.transition, session: { ...entry.transition.session, updatedAt: record.updatedAt } } });
    }
    newHistory.push(...op.history);
  }

  const box = changeOutbox(before.outbox ?? [], newOutbox, options.outbox);
  if (sessions === null && box === null) return { applied, conflicts, document: before, changed: false, tombstones, claimed: [], trimmed: [] };
  sessions ??= before.sessions;

  let history = before.history;
  if (newHistory.length > 0) {
    history = [...before.history, ...newHistory];
    if (history.length > HISTORY_LIMIT) history = history.slice(history.length - HISTORY_LIMIT);
  }
  const outbox = box ? box.outbox : (before.outbox ?? []);
  const after: StateDocument = Object.freeze({
    schemaVersion: SCHEMA_VERSION,
    sessions: Object.isFrozen(sessions) ? sessions : Object.freeze(sessions),
    history: history === before.history ? history : (Object.freeze(history) as HistoryEntry[]),
    ...(outbox.length > 0 ? { outbox } : {}),
  });
  assertNotPromotingEmpty(before, after, deleted, options.file);
  return { applied, conflicts, document: after, changed: true, tombstones, claimed: box?.claimed ?? [], trimmed: box?.trimmed ?? [] };
}

export function sameOwner(a: RecordOwner | null | undefined, b: RecordOwner | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.pid === b.pid && a.host === b.host && (a.bootId ?? null) === (b.bootId ?? null) && (a.startTicks ?? null) === (b.startTicks ?? null);
}

/**
 * The outbox after a commit: entries delivered removed, released ones ownerless (one released
 * before it began no longer counts its claim as an attempt), claimed ones
 * owned by the claimer (only while their owner is still the one the claimer saw gone: one taker),
 * the ops' new entries appended, the oldest dropped beyond OUTBOX_LIMIT. Null: nothing changed.
 */
function changeOutbox(
  before: readonly OutboxEntry[],
  added: readonly OutboxEntry[],
  change: OutboxChange | undefined,
): { outbox: OutboxEntry[]; claimed: OutboxEntry[]; trimmed: OutboxEntry[] } | null {
  const remove = new Set(change?.remove ?? []);
  const release = new Set(change?.release ?? []);
  const unclaim = new Set(change?.unclaim ?? []);
  const claims = new Map((change?.claim ?? []).map((c) => [c.id, c.from]));
  if (added.length === 0 && remove.size === 0 && release.size === 0 && unclaim.size === 0 && claims.size === 0) return null;
  let changed = added.length > 0;
  const claimed: OutboxEntry[] = [];
  const outbox: OutboxEntry[] = [];
  for (const entry of before) {
    if (remove.has(entry.id)) {
      changed = true;
      continue;
    }
    if (change && (release.has(entry.id) || unclaim.has(entry.id)) && sameOwner(entry.owner, change.by)) {
      const attempts = unclaim.has(entry.id) ? Math.max(0, entry.attempts - 1) : entry.attempts;
      outbox.push(Object.freeze({ ...entry, owner: null, attempts }));
      changed = true;
    } else if (change && claims.has(entry.id) && sameOwner(entry.owner, claims.get(entry.id))) {
      const taken = Object.freeze({ ...entry, owner: change.by, attempts: entry.attempts + 1 });
      outbox.push(taken);
      claimed.push(taken);
      changed = true;
    } else {
      outbox.push(entry);
    }
  }
  if (!changed) return null;
  for (const entry of added) outbox.push(Object.freeze(entry));
  const trimmed = outbox.length > OUTBOX_LIMIT ? outbox.splice(0, outbox.length - OUTBOX_LIMIT) : [];
  return { outbox: Object.freeze(outbox) as OutboxEntry[], claimed, trimmed };
}
