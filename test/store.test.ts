import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidInputError, StateFileError } from '../src/model/errors.js';
import { HISTORY_LIMIT, SCHEMA_VERSION, SessionRecordSchema, emptyDocument } from '../src/model/schema.js';
import type { HistoryEntry, PersistedSnapshot, SessionRecord, StateDocument } from '../src/model/schema.js';
import { migrateDocument } from '../src/store/document.js';
import { StateStore } from '../src/store/file-store.js';
import { assertNotPromotingEmpty } from '../src/store/merge.js';
import { defaultStatePath } from '../src/store/paths.js';
import type { CommitOp, RecordStamp } from '../src/store/store.js';
import { processStartTime } from '../src/tmux/host.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function snapshot(key: string, pid = 4242): PersistedSnapshot {
  return {
    status: 'active',
    value: { active: 'running' },
    historyValue: {},
    children: {},
    context: {
      key,
      sessionId: `00000000-0000-4000-8000-${String(pid).padStart(12, '0')}`,
      spec: {
        command: ['claude', '--session-id', 'x'],
        cwd: '/home/u/project',
        env: { FOO: 'bar' },
        labels: { team: 'core' },
        group: 'warden',
        resumeCommand: 'claude --resume {sessionId}',
      },
      launch: 'create',
      windowId: '@1',
      paneId: '%1',
      pid,
      exitStatus: null,
      createdAt: '2025-01-01T00:00:00.000Z',
      error: null,
      next: null,
    },
  };
}

function ended(key: string, n: number): HistoryEntry {
  return {
    key,
    sessionId: `session-${n}`,
    command: ['claude'],
    cwd: null,
    group: 'warden',
    labels: {},
    createdAt: null,
    endedAt: '2025-01-01T00:00:00.000Z',
    reason: 'ended',
    exitStatus: 0,
    error: null,
  };
}

function put(key: string, expectStamp: RecordStamp | null, pid?: number): CommitOp {
  return { key, expect: expectStamp, record: { machineVersion: '1', snapshot: snapshot(key, pid) } };
}

function stampOf(record: SessionRecord | null | undefined): RecordStamp {
  if (!record) throw new Error('expected a record');
  return { rev: record.rev, updatedAt: record.updatedAt };
}

async function caught(promise: Promise<unknown>): Promise<StateFileError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StateFileError) return err;
    throw err;
  }
  throw new Error('expected a StateFileError, but it succeeded');
}

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'warden-store-'));
  file = path.join(dir, 'state.json');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await fs.chmod(dir, 0o700).catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

describe('the state file: lowdb over a durable adapter', () => {
  it('round-trips a committed record through a fresh store', async () => {
    const store = new StateStore(file);
    const { applied, conflicts, document } = await store.commit([put('api-fix', null)]);
    expect(conflicts.size).toBe(0);
    const record = applied.get('api-fix');
    expect(record).toMatchObject({ rev: 1, machineVersion: '1', snapshot: snapshot('api-fix') });
    expect(new Date(record!.updatedAt).toISOString()).toBe(record!.updatedAt);
    expect(document.sessions['api-fix']).toEqual(record);
    expect(store.writeCount).toBe(1);

    const loaded = await new StateStore(file).load();
    expect(loaded).toEqual({ schemaVersion: SCHEMA_VERSION, sessions: { 'api-fix': record }, history: [] });
  });

  it('reads a missing file as an empty document and writes nothing', async () => {
    const nested = path.join(dir, 'not', 'yet', 'state.json');
    const store = new StateStore(nested);
    expect(await store.load()).toEqual(emptyDocument());
    expect((await store.commit([])).document).toEqual(emptyDocument());
    expect(existsSync(path.join(dir, 'not'))).toBe(false);
    expect(store.writeCount).toBe(0);
  });

  it('creates the directory 0700 and the file (and .bak) 0600', async () => {
    const nested = path.join(dir, 'deep', 'er', 'state.json');
    const store = new StateStore(nested);
    await store.commit([put('a', null)]);
    const second = await store.commit([put('b', null)]);
    expect(second.applied.size).toBe(1);
    expect((await fs.stat(path.join(dir, 'deep'))).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(dir, 'deep', 'er'))).mode & 0o777).toBe(0o700);
    expect((await fs.stat(nested)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(`${nested}.bak`)).mode & 0o777).toBe(0o600);
  });

  it('keeps the previous good file as state.json.bak and leaves no temp or lock files', async () => {
    const store = new StateStore(file);
    const first = await store.commit([put('a', null)]);
    const afterFirst = await fs.readFile(file, 'utf8');
    // The first file is kept at once, so a deleted state file can always be noticed (invariant 12).
    expect(await fs.readFile(store.backupPath, 'utf8')).toBe(afterFirst);

    const second = await store.commit([put('a', stampOf(first.applied.get('a')))]);
    expect(await fs.readFile(store.backupPath, 'utf8')).toBe(afterFirst);
    const afterSecond = await fs.readFile(file, 'utf8');

    await store.commit([put('a', stampOf(second.applied.get('a')))]);
    expect(await fs.readFile(store.backupPath, 'utf8')).toBe(afterSecond);
    // state.json.valid: the digest of the bytes last written, so the next read need not validate them again.
    expect((await fs.readdir(dir)).sort()).toEqual(['state.json', 'state.json.bak', 'state.json.valid']);
  });

  it('returns frozen documents, so a caller cannot corrupt the cached copy', async () => {
    const store = new StateStore(file);
    const { document } = await store.commit([put('a', null)]);
    expect(() => {
      (document.sessions as Record<string, unknown>).b = {};
    }).toThrow(TypeError);
    expect(() => {
      (document.sessions.a as { rev: number }).rev = 9;
    }).toThrow(TypeError);
    expect(() => document.history.push(ended('a', 1))).toThrow(TypeError);
  });

  it('carries every record field the schema defines besides the stamp (e.g. owner)', async (ctx) => {
    if (!('owner' in SessionRecordSchema.shape)) ctx.skip('this schema has no extra record fields');
    const owner = { pid: 1234, host: 'build-box' };
    const content = { machineVersion: '1', owner, snapshot: snapshot('a') } as CommitOp['record'];
    const store = new StateStore(file);
    const { applied } = await store.commit([{ key: 'a', expect: null, record: content }]);
    expect(applied.get('a')).toMatchObject({ rev: 1, owner });
    expect((await new StateStore(file).load()).sessions.a).toMatchObject({ owner });
  });

  it('treats keys like "constructor" as ordinary keys', async () => {
    const store = new StateStore(file);
    const { applied, conflicts } = await store.commit([put('constructor', null), put('toString', null)]);
    expect(conflicts.size).toBe(0);
    expect(applied.get('constructor')?.rev).toBe(1);
    const loaded = await new StateStore(file).load();
    expect(Object.keys(loaded.sessions).sort()).toEqual(['constructor', 'toString']);
    expect(loaded.sessions.hasOwnProperty).toBeUndefined();
  });
});

describe('the state file: validated on every read, never overwritten when invalid', () => {
  async function expectRefused(bytes: string, pattern: RegExp) {
    await fs.writeFile(file, bytes);
    const store = new StateStore(file);
    const loadErr = await caught(store.load());
    expect(loadErr.code).toBe('STATE_INVALID');
    expect(loadErr.path).toBe(file);
    expect(loadErr.message).toContain(file);
    expect(loadErr.message).toMatch(pattern);
    expect(loadErr.message).not.toContain('\n');

    const commitErr = await caught(store.commit([put('a', null)]));
    expect(commitErr.code).toBe('STATE_INVALID');
    expect(await fs.readFile(file, 'utf8')).toBe(bytes);
    expect(existsSync(store.backupPath)).toBe(false);
    expect(store.writeCount).toBe(0);
    // Nothing of the refused file's own (the .valid of the file it was copied from is not its).
    expect((await fs.readdir(dir)).filter((name) => !name.endsWith('.valid')).sort()).toEqual(['state.json']);
    return loadErr;
  }

  it('refuses a garbage file with a one-line message naming it and the fix', async () => {
    const err = await expectRefused('garbage\n{{{\nmore garbage', /is not valid JSON \(.+\): fix or remove it/);
    expect(err.message).toContain(`restore ${file}.bak with 'warden doctor --repair'`);
  });

  it('skips validating only the exact bytes it wrote: a byte changed by anyone else is validated, and refused', async () => {
    const store = new StateStore(file);
    await store.commit([put('a', null)]);
    const written = await fs.readFile(file, 'utf8');
    const record = JSON.parse(await fs.readFile(`${file}.valid`, 'utf8')) as { sha256: string };
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The digest matches: read without validating, and read right.
    expect(Object.keys((await new StateStore(file).load()).sessions)).toEqual(['a']);
    // Same length, still JSON, no longer valid (rev 0): the digest no longer matches, so it is validated and refused.
    const bad = written.replace('"rev":1', '"rev":0');
    await fs.writeFile(file, bad);
    expect((await caught(new StateStore(file).load())).code).toBe('STATE_INVALID');
    // A record naming these very bytes, made under another schema (another version of tmux-warden): refused too.
    const sha256 = createHash('sha256').update(bad).digest('hex');
    await fs.writeFile(`${file}.valid`, JSON.stringify({ schema: 'an older schema', sha256 }));
    expect((await caught(new StateStore(file).load())).code).toBe('STATE_INVALID');
  });

  it('refuses a truncated file', async () => {
    const store = new StateStore(path.join(dir, 'source.json'));
    await store.commit([put('a', null), put('b', null)]);
    const good = await fs.readFile(store.path, 'utf8');
    await fs.rm(store.path);
    await fs.rm(store.backupPath);
    await expectRefused(good.slice(0, Math.floor(good.length / 2)), /is not valid JSON/);
  });

  it('refuses an empty file', async () => {
    await expectRefused('', /is not valid JSON/);
  });

  it('refuses JSON that does not match the schema, naming the field', async () => {
    const bad = { schemaVersion: 1, sessions: { a: { rev: 'one', updatedAt: 'x', machineVersion: '1', snapshot: snapshot('a') } }, history: [] };
    await expectRefused(JSON.stringify(bad), /does not match the state schema \(sessions\.a\.rev: /);
  });

  it('refuses a file written by a newer tmux-warden: upgrade', async () => {
    const newer = { schemaVersion: SCHEMA_VERSION + 1, sessions: {}, history: [], future: true };
    const err = await expectRefused(JSON.stringify(newer), /written by a newer tmux-warden .*upgrade/);
    expect(err.message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
  });

  it('migrates older documents step by step before validating', () => {
    const table = { 0: (doc: Record<string, unknown>) => ({ ...doc, sessions: doc.runs, runs: undefined }) };
    const migrated = migrateDocument({ schemaVersion: 0, runs: {}, history: [] }, file, table);
    expect(migrated).toMatchObject({ schemaVersion: SCHEMA_VERSION, sessions: {}, history: [] });
    expect(() => migrateDocument({ schemaVersion: 0 }, file, {})).toThrow(/cannot migrate/);
    // Version 1 is the first: nothing to do, and the document is passed through untouched.
    const current = { schemaVersion: SCHEMA_VERSION, sessions: {}, history: [] };
    expect(migrateDocument(current, file)).toBe(current);
  });

  it('re-reads a file changed by someone else after its own write, and refuses it if corrupted', async () => {
    const store = new StateStore(file);
    await store.commit([put('a', null)]);
    await fs.writeFile(file, '{"schemaVersion":1,"sessions":{},"history":[');
    const err = await caught(store.commit([put('b', null)]));
    expect(err.code).toBe('STATE_INVALID');
    expect(await fs.readFile(file, 'utf8')).toBe('{"schemaVersion":1,"sessions":{},"history":[');
  });
});

describe('the state file: I/O errors name the path and leave the file as it was', () => {
  it('fails with STATE_IO in a read-only directory', async (ctx) => {
    const store = new StateStore(file);
    await store.commit([put('a', null)]);
    const before = await fs.readFile(file, 'utf8');
    if (isRoot) {
      ctx.skip('running as root: chmod does not stop root from writing; the next tests fail the write another way');
    }
    await fs.chmod(dir, 0o500);
    const err = await caught(new StateStore(file).commit([put('b', null)]));
    expect(err.code).toBe('STATE_IO');
    expect(err.message).not.toContain('\n');
    expect(err.message).toContain(dir);
    await fs.chmod(dir, 0o700);
    expect(await fs.readFile(file, 'utf8')).toBe(before);
  });

  it('fails with STATE_IO when a write fails half-way, leaving the file and no temp files behind', async () => {
    const store = new StateStore(file);
    const first = await store.commit([put('a', null)]);
    const before = await fs.readFile(file, 'utf8');
    // A non-empty directory where .bak goes: the new file is written and synced, then keeping
    // the backup fails, before the state file is replaced.
    await fs.rm(store.backupPath);
    await fs.mkdir(store.backupPath);
    await fs.writeFile(path.join(store.backupPath, 'x'), 'x');

    const err = await caught(store.commit([put('a', stampOf(first.applied.get('a')))]));
    expect(err.code).toBe('STATE_IO');
    expect(err.path).toBe(file);
    expect(err.message).toMatch(new RegExp(`^cannot write state file ${file} \\(.+\\): .*left as it was \\(last good copy: ${file}\\.bak\\)$`));
    expect(await fs.readFile(file, 'utf8')).toBe(before);
    // state.json.valid: the digest of the bytes last written, so the next read need not validate them again.
    expect((await fs.readdir(dir)).sort()).toEqual(['state.json', 'state.json.bak', 'state.json.valid']);
    expect(store.writeCount).toBe(1);

    // The store did not keep the failed merge: once .bak is writable again it starts from the file.
    await fs.rm(store.backupPath, { recursive: true });
    const retry = await store.commit([put('a', stampOf(first.applied.get('a')))]);
    expect(retry.applied.get('a')?.rev).toBe(2);
  });

  it('fails with STATE_IO when the state directory is a file', async () => {
    await fs.writeFile(path.join(dir, 'blocker'), 'not a directory');
    const blocked = path.join(dir, 'blocker', 'state.json');
    const store = new StateStore(blocked);
    const err = await caught(store.commit([put('a', null)]));
    expect(err.code).toBe('STATE_IO');
    expect(err.message).toContain(path.join(dir, 'blocker'));
    expect(err.message).not.toContain('\n');
    expect(await fs.readFile(path.join(dir, 'blocker'), 'utf8')).toBe('not a directory');
    expect((await caught(store.load())).code).toBe('STATE_IO');
  });

  it('fails with STATE_IO when the state file is a directory', async () => {
    await fs.mkdir(file);
    const err = await caught(new StateStore(file).load());
    expect(err.code).toBe('STATE_IO');
    expect(err.message).toContain(file);
  });
});

describe('the state file: per-session revisions', () => {
  it('refuses a stale expect with a conflict carrying the current record, overwriting nothing', async () => {
    const store = new StateStore(file);
    const created = (await store.commit([put('a', null)])).applied.get('a');
    const updated = (await store.commit([put('a', stampOf(created), 7)])).applied.get('a');
    expect(updated?.rev).toBe(2);
    const bytes = await fs.readFile(file, 'utf8');

    const other = new StateStore(file);
    const result = await other.commit([put('a', stampOf(created), 99)]);
    expect(result.applied.size).toBe(0);
    expect(result.conflicts.get('a')).toEqual(updated);
    expect(other.writeCount).toBe(0);
    expect(await fs.readFile(file, 'utf8')).toBe(bytes);
  });

  it('refuses expect null on an existing key, and a stamp for an absent key', async () => {
    const store = new StateStore(file);
    const created = (await store.commit([put('a', null)])).applied.get('a');
    const again = await store.commit([put('a', null), put('ghost', { rev: 1, updatedAt: created!.updatedAt })]);
    expect(again.conflicts.get('a')).toEqual(created);
    expect(again.conflicts.get('ghost')).toBeNull();
    expect(again.applied.size).toBe(0);
  });

  it('applies ops on other keys of the same commit', async () => {
    const store = new StateStore(file);
    const a = (await store.commit([put('a', null)])).applied.get('a');
    await store.commit([put('a', stampOf(a))]);
    const mixed = await store.commit([put('a', stampOf(a)), put('b', null)]);
    expect([...mixed.conflicts.keys()]).toEqual(['a']);
    expect([...mixed.applied.keys()]).toEqual(['b']);
    const loaded = await new StateStore(file).load();
    expect(loaded.sessions.a?.rev).toBe(2);
    expect(loaded.sessions.b?.rev).toBe(1);
  });

  it('matches on updatedAt as well as rev', async () => {
    const store = new StateStore(file);
    const a = (await store.commit([put('a', null)])).applied.get('a');
    const result = await store.commit([put('a', { rev: a!.rev, updatedAt: '1999-01-01T00:00:00.000Z' })]);
    expect(result.conflicts.has('a')).toBe(true);
  });

  it('stamps every write of a key distinctly, even within one millisecond', async () => {
    const frozen = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(frozen);
    const store = new StateStore(file);
    const seen = new Set<string>();
    let record = (await store.commit([put('a', null)])).applied.get('a');
    seen.add(`${record!.updatedAt}`);
    for (let i = 0; i < 5; i += 1) {
      record = (await store.commit([put('a', stampOf(record))])).applied.get('a');
      seen.add(record!.updatedAt);
    }
    expect(record?.rev).toBe(6);
    expect(seen.size).toBe(6);

    // Deleted and created again in the same millisecond: rev restarts at 1, the stamp does not repeat.
    const firstIncarnation = (await store.commit([put('b', null)])).applied.get('b');
    await store.commit([{ key: 'b', expect: stampOf(firstIncarnation), record: null }]);
    const second = (await store.commit([put('b', null)])).applied.get('b');
    expect(second?.rev).toBe(1);
    expect(second?.updatedAt).not.toBe(firstIncarnation?.updatedAt);
    const stale = await store.commit([put('b', stampOf(firstIncarnation))]);
    expect(stale.conflicts.has('b')).toBe(true);
  });

  it('sees records other stores wrote between its own commits', async () => {
    const one = new StateStore(file);
    const two = new StateStore(file);
    await one.commit([put('a', null)]);
    await two.commit([put('b', null)]);
    const { document } = await one.commit([put('c', null)]);
    expect(Object.keys(document.sessions).sort()).toEqual(['a', 'b', 'c']);
    expect(Object.keys((await new StateStore(file).load()).sessions).sort()).toEqual(['a', 'b', 'c']);
  });

  it('refuses invalid ops before locking or writing anything', async () => {
    const store = new StateStore(file);
    await expect(store.commit([put('bad key', null)])).rejects.toBeInstanceOf(InvalidInputError);
    await expect(store.commit([put('a', null), put('a', null)])).rejects.toThrow(/twice/);
    const broken = { key: 'a', expect: null, record: { machineVersion: '1', snapshot: { status: 'nope' } } };
    await expect(store.commit([broken as unknown as CommitOp])).rejects.toBeInstanceOf(InvalidInputError);
    expect(existsSync(file)).toBe(false);
  });
});

describe('the state file: deletes and bounded history', () => {
  it('deletes a record and appends its history entry only when the op applies', async () => {
    const store = new StateStore(file);
    const a = (await store.commit([put('a', null), put('b', null)])).applied.get('a');
    const staleDelete = await store.commit([{ key: 'a', expect: { rev: 5, updatedAt: a!.updatedAt }, record: null, history: [ended('a', 0)] }]);
    expect(staleDelete.conflicts.get('a')).toEqual(a);
    expect(staleDelete.document.history).toEqual([]);

    const done = await store.commit([{ key: 'a', expect: stampOf(a), record: null, history: [ended('a', 1)] }]);
    expect(done.applied.get('a')).toBeNull();
    const loaded = await new StateStore(file).load();
    expect(Object.keys(loaded.sessions)).toEqual(['b']);
    expect(loaded.history).toEqual([ended('a', 1)]);
  });

  it('may delete the last session: an empty document is written when every key was deleted', async () => {
    const store = new StateStore(file);
    const a = (await store.commit([put('a', null)])).applied.get('a');
    const done = await store.commit([{ key: 'a', expect: stampOf(a), record: null }]);
    expect(done.document.sessions).toEqual({});
    expect((await new StateStore(file).load()).sessions).toEqual({});
  });

  it(`keeps at most HISTORY_LIMIT (${HISTORY_LIMIT}) entries, dropping the oldest`, async () => {
    const store = new StateStore(file);
    const entries = Array.from({ length: HISTORY_LIMIT - 2 }, (_, n) => ended('a', n));
    await store.commit([{ ...put('a', null), history: entries }]);
    const more = Array.from({ length: 5 }, (_, n) => ended('b', HISTORY_LIMIT + n));
    await store.commit([{ ...put('b', null), history: more }]);
    const { history } = await new StateStore(file).load();
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]?.sessionId).toBe('session-3');
    expect(history.at(-1)?.sessionId).toBe(`session-${HISTORY_LIMIT + 4}`);
  });

  it('never promotes an empty document over one with sessions nobody deleted', () => {
    const record = (key: string): SessionRecord => ({ rev: 1, updatedAt: '2025-01-01T00:00:00.000Z', machineVersion: '1', snapshot: snapshot(key) });
    const before: StateDocument = { schemaVersion: 1, sessions: { a: record('a'), b: record('b') }, history: [] };
    const empty = emptyDocument();
    let err: unknown;
    try {
      assertNotPromotingEmpty(before, empty, new Set(['a']), file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as StateFileError).code).toBe('STATE_IO');
    expect((err as StateFileError).message).toMatch(/drop 1 session/);
    expect(() => assertNotPromotingEmpty(before, empty, new Set(['a', 'b']), file)).not.toThrow();
    expect(() => assertNotPromotingEmpty(emptyDocument(), empty, new Set(), file)).not.toThrow();
    expect(() => assertNotPromotingEmpty(before, { ...empty, sessions: { c: record('c') } }, new Set(), file)).not.toThrow();
  });
});

describe('the state file: changed()', () => {
  it('tells whether the file changed since this store last loaded or wrote it', async () => {
    const mine = new StateStore(file);
    expect(await mine.changed()).toBe(true); // never looked
    await mine.load();
    expect(await mine.changed()).toBe(false); // absent, still absent
    await mine.commit([put('a', null)]);
    expect(await mine.changed()).toBe(false); // its own write

    await new StateStore(file).commit([put('b', null)]);
    expect(await mine.changed()).toBe(true);
    await mine.load();
    expect(await mine.changed()).toBe(false);

    await fs.rm(file);
    expect(await mine.changed()).toBe(true);
    // Deleted while its .bak holds sessions: refused, never read as empty (invariant 12).
    expect((await caught(mine.load())).message).toMatch(/is missing but .*\.bak holds \d session\(s\): 'warden doctor --repair' restores it/);
    await fs.rm(`${file}.bak`);
    expect(await mine.load()).toEqual(emptyDocument()); // not the stale copy lowdb held
  });

  it('gives each write an mtime later than the file it replaced, even with the clock behind it', async () => {
    // Inode numbers come back two writes later and the kernel's mtime steps in ticks: without
    // this, three same-size writes in one tick (or behind a stepped clock) would look unchanged.
    const mine = new StateStore(file);
    await mine.commit([put('a', null)]);
    const ahead = Date.now() / 1000 + 3600; // left by a writer whose clock ran an hour ahead
    await fs.utimes(file, ahead, ahead);
    await mine.load();
    const before = await fs.stat(file);
    await new StateStore(file).commit([put('b', null)]);
    const after = await fs.stat(file);
    expect(after.mtimeMs).toBeGreaterThan(before.mtimeMs);
    expect(after.mtimeMs - before.mtimeMs).toBeLessThan(1);
    expect(await mine.changed()).toBe(true);
  });
});

/** Puts a lock at `lockPath` as `pid` would hold it (its start time read now, when it runs). */
async function lockAs(lockPath: string, pid: number, takenAtMs = Number(process.hrtime.bigint() / 1_000_000n)): Promise<void> {
  const start = processStartTime(pid);
  await fs.mkdir(lockPath);
  const owner = { pid, host: os.hostname(), bootId: start?.bootId ?? null, startTicks: start?.startTicks ?? null, takenAtMs, token: 'someone-else' };
  await fs.writeFile(path.join(lockPath, 'owner.json'), JSON.stringify(owner));
}

/** The pid of a process that has exited. */
const deadPid = () => spawnSync('true').pid!;

describe('the state file: the cross-process lock', () => {
  it('takes over at once the lock of a holder that is gone, whatever the lock\'s dates say (clock stepped)', async () => {
    const store = new StateStore(file, { lockWaitMs: 1000 });
    await lockAs(store.lockPath, deadPid());
    // Dated an hour ahead, as when the clock was stepped back after it was taken.
    const future = new Date(Date.now() + 3_600_000);
    await fs.utimes(store.lockPath, future, future);
    expect(await store.lockInfo()).toMatchObject({ held: true, stale: true });

    const result = await store.commit([put('a', null)]);
    expect(result.applied.get('a')?.rev).toBe(1);
    expect(await store.lockInfo()).toEqual({ held: false, stale: false, ageMs: null, holderPid: null });
  });

  it('takes over a lock that names no holder (left by an older version)', async () => {
    const store = new StateStore(file, { lockWaitMs: 1000 });
    await fs.mkdir(store.lockPath);
    expect(await store.lockInfo()).toMatchObject({ held: true, stale: true, holderPid: null });
    expect((await store.commit([put('a', null)])).applied.get('a')?.rev).toBe(1);
  });

  it('never takes a live holder\'s lock, however old: waits up to lockWaitMs, then fails naming the holder', async () => {
    const store = new StateStore(file, { lockWaitMs: 300 });
    await store.commit([put('a', null)]);
    const before = await fs.readFile(file, 'utf8');
    // Held by this (live) process for an hour, with an ancient mtime: still not stale.
    await lockAs(store.lockPath, process.pid, Number(process.hrtime.bigint() / 1_000_000n) - 3_600_000);
    const past = new Date(Date.now() - 86_400_000);
    await fs.utimes(store.lockPath, past, past);
    const info = await store.lockInfo();
    expect(info).toMatchObject({ held: true, stale: false, holderPid: process.pid });
    expect(info.ageMs).toBeGreaterThanOrEqual(3_600_000);

    const err = await caught(store.commit([put('b', null)]));
    expect(err.code).toBe('STATE_IO');
    expect(err.path).toBe(store.lockPath);
    expect(err.message).toContain(`locked by process ${process.pid}, which is still running`);
    expect(err.message).toContain(`kill -CONT ${process.pid}`);
    expect(await fs.readFile(file, 'utf8')).toBe(before);

    // The lock is released meanwhile: a waiting commit goes through.
    const waiting = new StateStore(file, { lockWaitMs: 5000 }).commit([put('b', null)]);
    setTimeout(() => void fs.rm(store.lockPath, { recursive: true }), 100);
    expect((await waiting).applied.get('b')?.rev).toBe(1);
  });

  it('a lock whose mtime falls behind (the file system\'s clock differs) is still ours: the write lands', async () => {
    const store = new StateStore(file);
    const first = await store.commit([put('a', null)]);
    const adapter = (store as unknown as { adapter: { write: (doc: StateDocument) => Promise<void> } }).adapter;
    const write = adapter.write.bind(adapter);
    adapter.write = async (doc) => {
      const past = new Date(Date.now() - 3_600_000);
      await fs.utimes(store.lockPath, past, past);
      return write(doc);
    };
    const second = await store.commit([put('a', stampOf(first.applied.get('a')))]);
    expect(second.applied.get('a')?.rev).toBe(2);
  });
});

describe('the state file: a lost lock', () => {
  it('fails the commit instead of replacing the file when the lock vanished mid-write', async () => {
    const store = new StateStore(file);
    const first = await store.commit([put('a', null)]);
    const before = await fs.readFile(file, 'utf8');
    // Reach into the adapter to lose the lock between taking it and replacing the file, as when
    // it was removed by hand.
    const adapter = (store as unknown as { adapter: { write: (doc: StateDocument) => Promise<void> } }).adapter;
    const write = adapter.write.bind(adapter);
    adapter.write = async (doc) => {
      await fs.rm(store.lockPath, { recursive: true });
      return write(doc);
    };
    const err = await caught(store.commit([put('a', stampOf(first.applied.get('a')))]));
    expect(err.code).toBe('STATE_IO');
    expect(err.message).toMatch(/lost the lock .*nothing was written/);
    expect(await fs.readFile(file, 'utf8')).toBe(before);
    expect((await fs.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('the state file: concurrent processes', () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const compiled = path.resolve(here, '..', 'dist', 'src', 'store.js');

  beforeAll(() => {
    const src = path.resolve(here, '..', 'src');
    const sources = [
      path.join(src, 'store.ts'),
      ...['store', 'model'].flatMap((dir) => readdirSync(path.join(src, dir)).map((f) => path.join(src, dir, f))),
    ];
    if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run 'npx tsc -p tsconfig.build.json' (npm test does)`);
    const built = statSync(compiled).mtimeMs;
    const newest = Math.max(...sources.map((s) => statSync(s).mtimeMs));
    if (built < newest) throw new Error(`${compiled} is older than src/: run 'npx tsc -p tsconfig.build.json' (npm test does)`);
  });

  /** Starts `count` node processes running `body` (with `store`, `id`, `put`, `ended` in scope), all released at once. */
  async function race(count: number, body: string): Promise<unknown[]> {
    const go = path.join(dir, 'go');
    const script = `
      import { existsSync } from 'node:fs';
      const { StateStore } = await import(process.env.STORE_MODULE);
      const id = Number(process.env.CHILD_ID);
      const template = JSON.parse(process.env.SNAPSHOT);
      const put = (key, expect, machineVersion = '1') => ({
        key, expect, record: { machineVersion, snapshot: { ...template, context: { ...template.context, key } } },
      });
      const ended = (key, n) => ({ key, sessionId: key + '-' + n, command: ['x'], cwd: null, group: 'warden',
        labels: {}, createdAt: null, endedAt: new Date().toISOString(), reason: 'ended', exitStatus: 0, error: null });
      const store = new StateStore(process.env.STATE_FILE);
      await store.load();
      process.stdout.write('ready\\n');
      while (!existsSync(process.env.GO_FILE)) await new Promise((r) => setTimeout(r, 1));
      const result = await (async () => { ${body} })();
      process.stdout.write(JSON.stringify(result) + '\\n');
    `;
    const children = Array.from({ length: count }, (_, id) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          ...process.env,
          STORE_MODULE: compiled,
          CHILD_ID: String(id),
          SNAPSHOT: JSON.stringify(snapshot('template')),
          STATE_FILE: file,
          GO_FILE: go,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let markReady: () => void = () => {};
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('ready\n')) markReady();
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<unknown>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code) => {
          markReady();
          if (code !== 0) return reject(new Error(`child ${id} exited ${code}: ${stderr}`));
          const last = stdout.trim().split('\n').at(-1) ?? '';
          resolve(JSON.parse(last));
        });
      });
      return { ready, exited };
    });
    await Promise.all(children.map((c) => c.ready));
    await fs.writeFile(go, '');
    return Promise.all(children.map((c) => c.exited));
  }

  it('8 processes committing their own keys 10 times each lose no record and no history', async () => {
    const results = (await race(
      8,
      `
      const key = 'proc-' + id;
      let expect = null;
      const revs = [];
      for (let i = 0; i < 10; i += 1) {
        const r = await store.commit([{ ...put(key, expect), history: [ended(key, i)] }]);
        const rec = r.applied.get(key);
        if (!rec) throw new Error('conflict on own key: ' + JSON.stringify([...r.conflicts]));
        expect = { rev: rec.rev, updatedAt: rec.updatedAt };
        revs.push(rec.rev);
      }
      return { revs, writes: store.writeCount };
      `,
    )) as Array<{ revs: number[]; writes: number }>;

    for (const r of results) {
      expect(r.revs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(r.writes).toBe(10);
    }
    const loaded = await new StateStore(file).load();
    expect(Object.keys(loaded.sessions).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `proc-${i}`));
    for (const record of Object.values(loaded.sessions)) expect(record.rev).toBe(10);
    expect(loaded.history).toHaveLength(80);
    for (let id = 0; id < 8; id += 1) {
      const mine = loaded.history.filter((h) => h.key === `proc-${id}`).map((h) => h.sessionId);
      expect(mine).toEqual(Array.from({ length: 10 }, (_, i) => `proc-${id}-${i}`));
    }
    expect(existsSync(`${file}.lock`)).toBe(false);
  }, 60_000);

  it('8 processes racing to create the same key: exactly one wins, the rest get conflicts', async () => {
    const results = (await race(
      8,
      `
      const r = await store.commit([put('shared', null, 'proc-' + id)]);
      return { id, applied: r.applied.get('shared') ?? null, conflict: r.conflicts.has('shared') ? r.conflicts.get('shared') : undefined };
      `,
    )) as Array<{ id: number; applied: SessionRecord | null; conflict?: SessionRecord | null }>;

    const winners = results.filter((r) => r.applied !== null);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!.applied!;
    expect(winner).toMatchObject({ rev: 1, machineVersion: `proc-${winners[0]!.id}` });
    const losers = results.filter((r) => r.applied === null);
    expect(losers).toHaveLength(7);
    for (const loser of losers) expect(loser.conflict).toEqual(winner);
    expect((await new StateStore(file).load()).sessions.shared).toEqual(winner);
  }, 60_000);
});

describe('the state file: performance', () => {
  // How long this takes is a benchmark figure (npm run bench: the scale wall), not a test.
  it('commits into a document of 10,000 sessions, reusing what it validated, losing nothing', async () => {
    const store = new StateStore(file);
    const keys = Array.from({ length: 10_000 }, (_, i) => `s${i}`);
    await store.commit(keys.map((key, i) => put(key, null, i + 1)));
    let current: SessionRecord | null | undefined = (await store.load()).sessions.s42;
    for (let i = 0; i < 5; i += 1) {
      const { applied } = await store.commit([put('s42', stampOf(current)), put(`new${i}`, null)]);
      current = applied.get('s42');
    }
    const fresh = new StateStore(file);
    await fresh.commit([put('s43', stampOf((await fresh.load()).sessions.s43))]);
    const document = await new StateStore(file).load();
    expect(Object.keys(document.sessions)).toHaveLength(10_005);
    expect(document.sessions.s42!.rev).toBe(6);
    expect(document.sessions.s43!.rev).toBe(2);
    expect(store.writeCount).toBe(6);
  }, 60_000);
});

describe('the state file: default path', () => {
  it('is $WARDEN_STATE, else $XDG_STATE_HOME/tmux-warden/state.json, else ~/.local/state/tmux-warden/state.json', () => {
    expect(defaultStatePath({ WARDEN_STATE: '/srv/w.json', XDG_STATE_HOME: '/xdg', HOME: '/home/u' })).toBe('/srv/w.json');
    expect(defaultStatePath({ XDG_STATE_HOME: '/xdg', HOME: '/home/u' })).toBe('/xdg/tmux-warden/state.json');
    expect(defaultStatePath({ HOME: '/home/u' })).toBe('/home/u/.local/state/tmux-warden/state.json');
    // Empty values count as unset; a relative XDG_STATE_HOME is invalid per the XDG spec.
    expect(defaultStatePath({ WARDEN_STATE: '', XDG_STATE_HOME: 'rel', HOME: '/home/u' })).toBe('/home/u/.local/state/tmux-warden/state.json');
    expect(defaultStatePath({ WARDEN_STATE: 'rel/w.json' })).toBe(path.resolve('rel/w.json'));
    expect(defaultStatePath({})).toBe(path.join(os.homedir(), '.local', 'state', 'tmux-warden', 'state.json'));
  });
});
