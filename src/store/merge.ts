/**
 * The merge rules, free of I/O so any store applies the same ones and a test can state them
 * directly. Writers merge per key: an op applies only if the record is still at the revision the
 * caller last saw, so a stale writer gets a conflict, never a win.
 */
import { InvalidInputError } from '../model/errors.js';
import { HISTORY_LIMIT, HistoryEntrySchema, KeySchema, SCHEMA_VERSION, SessionRecordSchema } from '../model/schema.js';
import type { HistoryEntry, SessionRecord, StateDocument } from '../model/schema.js';
import { describeIssues, oneLine, stateIoError } from './state-file-errors.js';
import type { CommitOp, RecordContent, RecordStamp } from './store.js';

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

/** A CommitOp that passed `checkOps`: valid key, record and history, its key alone in its commit. */
export interface CheckedOp {
  key: string;
  expect: RecordStamp | null;
  record: RecordContent | null;
  history: HistoryEntry[];
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
    return { key: op.key, expect: op.expect, record, history };
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
}

export interface Merge {
  applied: Map<string, SessionRecord | null>;
  conflicts: Map<string, SessionRecord | null>;
  /** The merged document (frozen), or `before` itself when no op applied: then there is nothing to write. */
  document: StateDocument;
  changed: boolean;
  /** The tombstones to pass to the next merge: those still within their millisecond, and this merge's deletions. */
  tombstones: Map<string, number>;
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
    } else {
      const floor = current !== null ? Date.parse(current.updatedAt) : (tombstones.get(op.key) ?? Number.NaN);
      const record: SessionRecord = Object.freeze({
        rev: (current?.rev ?? 0) + 1,
        updatedAt: stampAfter(floor, clock),
        ...op.record,
      });
      sessions[op.key] = record;
      applied.set(op.key, record);
    }
    newHistory.push(...op.history);
  }

  if (sessions === null) return { applied, conflicts, document: before, changed: false, tombstones };

  let history = before.history;
  if (newHistory.length > 0) {
    history = [...before.history, ...newHistory];
    if (history.length > HISTORY_LIMIT) history = history.slice(history.length - HISTORY_LIMIT);
  }
  const after = Object.freeze({
    schemaVersion: SCHEMA_VERSION,
    sessions: Object.freeze(sessions),
    history: history === before.history ? history : (Object.freeze(history) as HistoryEntry[]),
  });
  assertNotPromotingEmpty(before, after, deleted, options.file);
  return { applied, conflicts, document: after, changed: true, tombstones };
}
