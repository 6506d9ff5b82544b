/**
 * The merge rules of the store, as pure functions: no file, no lock, a fixed clock. Each describe
 * is one rule a store must keep whatever it is stored in.
 */
import { describe, expect, it } from 'vitest';
import { InvalidInputError, StateFileError } from '../src/model/errors.js';
import { HISTORY_LIMIT, OUTBOX_LIMIT, SCHEMA_VERSION, SessionInfoSchema } from '../src/model/schema.js';
import type { HistoryEntry, OutboxEntry, PersistedSnapshot, RecordOwner, SessionRecord, StateDocument } from '../src/model/schema.js';
import { checkOps, mergeOps } from '../src/store/merge.js';
import type { CheckedOp } from '../src/store/merge.js';
import type { CommitOp, RecordStamp } from '../src/store/store.js';

const T0 = Date.parse('2025-06-01T12:00:00.000Z');
const at = (ms: number) => () => ms;
const iso = (ms: number) => new Date(ms).toISOString();

function idle(key: string): PersistedSnapshot {
  return {
    status: 'active',
    value: 'normal',
    context: { key, sessionId: null, spec: null, launch: 'create', windowId: null, paneId: null, pid: null, exitStatus: null, createdAt: null, error: null, next: null },
  };
}

function stored(key: string, rev: number, updatedAtMs = T0): SessionRecord {
  return Object.freeze({ rev, updatedAt: iso(updatedAtMs), machineVersion: '1', snapshot: idle(key) });
}

function documentOf(records: SessionRecord[], history: HistoryEntry[] = []): StateDocument {
  const sessions = Object.create(null) as Record<string, SessionRecord>;
  for (const record of records) sessions[record.snapshot.context.key] = record;
  return Object.freeze({ schemaVersion: SCHEMA_VERSION, sessions: Object.freeze(sessions), history: Object.freeze(history) as HistoryEntry[] });
}

function ended(key: string, n: number): HistoryEntry {
  return { key, sessionId: `s-${n}`, command: ['x'], cwd: null, group: 'warden', labels: {}, createdAt: null, endedAt: iso(T0), reason: 'ended', exitStatus: 0, error: null };
}

const stampOf = (record: SessionRecord): RecordStamp => ({ rev: record.rev, updatedAt: record.updatedAt });
const putOp = (key: string, expect: RecordStamp | null, history?: HistoryEntry[]): CommitOp => ({
  key,
  expect,
  record: { machineVersion: '2', snapshot: idle(key) },
  ...(history ? { history } : {}),
});
const checked = (...ops: CommitOp[]): CheckedOp[] => checkOps(ops);

describe('an op applies only at the revision its writer last saw', () => {
  it('applies at the seen stamp: the next revision, stamped now', () => {
    const a = stored('a', 3, T0 - 5000);
    const merge = mergeOps(documentOf([a]), checked(putOp('a', stampOf(a))), { clock: at(T0) });
    expect(merge.changed).toBe(true);
    expect(merge.conflicts.size).toBe(0);
    expect(merge.applied.get('a')).toMatchObject({ rev: 4, updatedAt: iso(T0), machineVersion: '2' });
    expect(merge.document.sessions.a).toBe(merge.applied.get('a'));
  });

  it('creates an absent key at revision 1 when the writer expected it absent', () => {
    const merge = mergeOps(documentOf([]), checked(putOp('a', null)), { clock: at(T0) });
    expect(merge.applied.get('a')).toMatchObject({ rev: 1, updatedAt: iso(T0) });
  });

  it('refuses a writer that saw an older revision, and reports what the file holds', () => {
    const a = stored('a', 2);
    const before = documentOf([a]);
    const merge = mergeOps(before, checked(putOp('a', { rev: 1, updatedAt: a.updatedAt })), { clock: at(T0) });
    expect(merge.applied.size).toBe(0);
    expect(merge.conflicts.get('a')).toBe(a);
    expect(merge.changed).toBe(false);
    expect(merge.document).toBe(before);
  });

  it('refuses the same revision stamped at another time (another writer got there between)', () => {
    const a = stored('a', 2);
    const merge = mergeOps(documentOf([a]), checked(putOp('a', { rev: 2, updatedAt: iso(T0 - 1) })), { clock: at(T0) });
    expect(merge.conflicts.get('a')).toBe(a);
  });

  it('refuses creating a key that exists, and updating or deleting one that is absent', () => {
    const a = stored('a', 1);
    const merge = mergeOps(
      documentOf([a]),
      checked(putOp('a', null), putOp('b', stampOf(a)), { key: 'c', expect: stampOf(a), record: null }),
      { clock: at(T0) },
    );
    expect([...merge.conflicts]).toEqual([['a', a], ['b', null], ['c', null]]);
    expect(merge.changed).toBe(false);
  });

  it('applies the other keys of a commit when one conflicts', () => {
    const a = stored('a', 1);
    const merge = mergeOps(documentOf([a]), checked(putOp('a', null), putOp('b', null)), { clock: at(T0) });
    expect([...merge.conflicts.keys()]).toEqual(['a']);
    expect([...merge.applied.keys()]).toEqual(['b']);
    expect(merge.document.sessions.a).toBe(a);
  });

  it('appends the history of applied ops only', () => {
    const a = stored('a', 1);
    const merge = mergeOps(
      documentOf([a], [ended('z', 0)]),
      checked(putOp('a', null, [ended('a', 1)]), putOp('b', null, [ended('b', 2)])),
      { clock: at(T0) },
    );
    expect(merge.document.history.map((h) => h.sessionId)).toEqual(['s-0', 's-2']);
  });

  it(`keeps the newest HISTORY_LIMIT (${HISTORY_LIMIT}) entries`, () => {
    const full = Array.from({ length: HISTORY_LIMIT }, (_, n) => ended('z', n));
    const merge = mergeOps(documentOf([], full), checked(putOp('b', null, [ended('b', HISTORY_LIMIT)])), { clock: at(T0) });
    expect(merge.document.history).toHaveLength(HISTORY_LIMIT);
    expect(merge.document.history[0]?.sessionId).toBe('s-1');
    expect(merge.document.history.at(-1)?.sessionId).toBe(`s-${HISTORY_LIMIT}`);
  });

  it('leaves the document it merged into as it was, and returns a frozen one', () => {
    const a = stored('a', 1);
    const before = documentOf([a]);
    const merge = mergeOps(before, checked({ key: 'a', expect: stampOf(a), record: null }, putOp('b', null)), { clock: at(T0) });
    expect(before.sessions.a).toBe(a);
    expect(Object.keys(before.sessions)).toEqual(['a']);
    expect(Object.keys(merge.document.sessions)).toEqual(['b']);
    expect(Object.isFrozen(merge.document)).toBe(true);
    expect(Object.isFrozen(merge.document.sessions)).toBe(true);
    expect(Object.isFrozen(merge.applied.get('b'))).toBe(true);
  });
});

describe('a key never gets the same stamp twice', () => {
  it('stamps after the previous updatedAt when the clock has not passed it', () => {
    const a = stored('a', 1, T0);
    const merge = mergeOps(documentOf([a]), checked(putOp('a', stampOf(a))), { clock: at(T0 - 10) });
    expect(merge.applied.get('a')?.updatedAt).toBe(iso(T0 + 1));
  });

  it('stamps a key recreated in the millisecond it was deleted after the deleted record', () => {
    const a = stored('a', 4, T0);
    const deletion = mergeOps(documentOf([a, stored('b', 1)]), checked({ key: 'a', expect: stampOf(a), record: null }), { clock: at(T0) });
    expect(deletion.tombstones.get('a')).toBe(T0);
    const recreation = mergeOps(deletion.document, checked(putOp('a', null)), { clock: at(T0), tombstones: deletion.tombstones });
    const again = recreation.applied.get('a');
    // A writer still holding the deleted record's stamp must not match the new record.
    expect(again).toMatchObject({ rev: 1, updatedAt: iso(T0 + 1) });
    expect(again?.updatedAt).not.toBe(a.updatedAt);
  });

  it('forgets a tombstone once the clock has passed it', () => {
    const tombstones = new Map([['a', T0], ['b', T0 + 5]]);
    const merge = mergeOps(documentOf([]), checked(putOp('a', null)), { clock: at(T0 + 1), tombstones });
    expect([...merge.tombstones]).toEqual([['b', T0 + 5]]);
    expect(merge.applied.get('a')?.updatedAt).toBe(iso(T0 + 1));
  });
});

describe('a merge never promotes an empty document over sessions nobody deleted', () => {
  const file = '/state/state.json';
  const before = documentOf([stored('a', 1), stored('b', 1)]);

  it('guards every merge: a result that lost a session nobody deleted is refused, not returned', () => {
    // Object.assign copies own keys only, so an inherited record stands for a merge bug that drops one.
    const a = stored('a', 1);
    const sessions = Object.assign(Object.create({ c: stored('c', 1) }) as Record<string, SessionRecord>, { a });
    const merge = () => mergeOps({ ...before, sessions }, checked({ key: 'a', expect: stampOf(a), record: null }), { clock: at(T0), file });
    expect(merge).toThrow(StateFileError);
    expect(merge).toThrow(/would drop 1 session/);
  });

  it('lets a commit that deletes every session through', () => {
    const [a, b] = [before.sessions.a!, before.sessions.b!];
    const merge = mergeOps(before, checked({ key: 'a', expect: stampOf(a), record: null }, { key: 'b', expect: stampOf(b), record: null }), { clock: at(T0), file });
    expect(merge.changed).toBe(true);
    expect(Object.keys(merge.document.sessions)).toEqual([]);
  });
});

describe('ops are checked before anything is locked or written', () => {
  it('refuses a key twice in one commit, an invalid key, record or history', () => {
    expect(() => checkOps([putOp('a', null), putOp('a', null)])).toThrow(InvalidInputError);
    expect(() => checkOps([putOp('a', null), putOp('a', null)])).toThrow(/commit op 1 \(key "a"\): the key appears twice/);
    expect(() => checkOps([putOp('no spaces', null)])).toThrow(/invalid key/);
    expect(() => checkOps([{ key: 'a', expect: null, record: { machineVersion: '1' } as CommitOp['record'] }])).toThrow(/invalid record \(snapshot/);
    expect(() => checkOps([putOp('a', null, [{ ...ended('a', 0), reason: 'vanished' } as unknown as HistoryEntry])])).toThrow(/invalid history/);
  });

  it('gives every checked op a history, empty when it had none', () => {
    expect(checkOps([putOp('a', null)])[0]?.history).toEqual([]);
  });
});

describe('the outbox: written with its transition, one taker, delivered entries leave (invariant 14)', () => {
  const me: RecordOwner = { pid: 100, host: 'h', bootId: 'b', startTicks: 7 };
  const gone: RecordOwner = { pid: 200, host: 'h', bootId: 'b', startTicks: 9 };
  const other: RecordOwner = { pid: 300, host: 'h', bootId: 'b', startTicks: 3 };
  const session = (key: string) =>
    SessionInfoSchema.parse({ key, state: 'orphaned', sessionId: null, group: null, windowId: null, paneId: null, pid: null, command: [], cwd: null, labels: {}, createdAt: null, updatedAt: null, exitStatus: null });
  const entry = (id: string, owner: RecordOwner | null, key = 'a'): OutboxEntry => ({
    id,
    hooks: [{ hook: 'orphaned', command: 'notify-me', timeoutMs: 1000 }],
    cwd: null,
    owner,
    attempts: 0,
    transition: { key, sessionId: null, from: 'active.running.busy', to: 'orphaned', event: 'WINDOW_GONE', at: iso(T0), session: session(key) },
  });
  const withOutbox = (document: StateDocument, outbox: OutboxEntry[]): StateDocument => Object.freeze({ ...document, outbox });

  it("adds an op's entries only when the op applies, stamped with the record as written", () => {
    const a = stored('a', 1);
    const merge = mergeOps(
      documentOf([a]),
      checked({ ...putOp('a', stampOf(a)), outbox: [entry('x', me)] }, { ...putOp('b', stampOf(a)), outbox: [entry('y', me, 'b')] }),
      { clock: at(T0 + 10) },
    );
    expect(merge.document.outbox?.map((e) => e.id)).toEqual(['x']);
    expect(merge.document.outbox?.[0]?.transition.session.updatedAt).toBe(iso(T0 + 10));
  });

  it('claims an entry only while its owner is still the one the claimer saw gone: one taker', () => {
    const before = withOutbox(documentOf([]), [entry('x', gone), entry('y', null)]);
    const first = mergeOps(before, [], { outbox: { by: me, claim: [{ id: 'x', from: gone }, { id: 'y', from: null }] } });
    expect(first.claimed.map((e) => [e.id, e.owner, e.attempts])).toEqual([['x', me, 1], ['y', me, 1]]);
    // A second process read the same outbox and claims after the first: it gets nothing.
    const second = mergeOps(first.document, [], { outbox: { by: other, claim: [{ id: 'x', from: gone }, { id: 'y', from: null }] } });
    expect(second.claimed).toEqual([]);
    expect(second.changed).toBe(false);
  });

  it('a claim counts as an attempt; released before it began, it no longer does', () => {
    const before = withOutbox(documentOf([]), [entry('x', gone)]);
    const claimed = mergeOps(before, [], { outbox: { by: me, claim: [{ id: 'x', from: gone }] } });
    expect(claimed.claimed[0]?.attempts).toBe(1);
    const unclaimed = mergeOps(claimed.document, [], { outbox: { by: me, unclaim: ['x'] } });
    expect(unclaimed.document.outbox?.map((e) => [e.owner, e.attempts])).toEqual([[null, 0]]);
    const again = mergeOps(unclaimed.document, [], { outbox: { by: other, claim: [{ id: 'x', from: null }] } });
    const released = mergeOps(again.document, [], { outbox: { by: other, release: ['x'] } });
    expect(released.document.outbox?.map((e) => [e.owner, e.attempts])).toEqual([[null, 1]]);
  });

  it('releases only its own entries, and removes delivered ones', () => {
    const before = withOutbox(documentOf([]), [entry('x', me), entry('y', other), entry('z', me)]);
    const merge = mergeOps(before, [], { outbox: { by: me, release: ['x', 'y'], remove: ['z'] } });
    expect(merge.document.outbox?.map((e) => [e.id, e.owner])).toEqual([['x', null], ['y', other]]);
    const emptied = mergeOps(merge.document, [], { outbox: { by: other, remove: ['x', 'y'] } });
    expect(emptied.document.outbox).toBeUndefined();
  });

  it(`keeps the newest OUTBOX_LIMIT (${OUTBOX_LIMIT}) entries, reporting those it drops`, () => {
    const full = Array.from({ length: OUTBOX_LIMIT }, (_, n) => entry(`e${n}`, me));
    const merge = mergeOps(withOutbox(documentOf([]), full), checked({ ...putOp('a', null), outbox: [entry('new', me)] }));
    expect(merge.document.outbox).toHaveLength(OUTBOX_LIMIT);
    expect(merge.trimmed.map((e) => e.id)).toEqual(['e0']);
    expect(merge.document.outbox?.at(-1)?.id).toBe('new');
  });
});
