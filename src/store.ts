/**
 * The durable state store: one JSON file holding every session record and the bounded history,
 * read through lowdb over an adapter of our own that validates every read and replaces the file
 * atomically (temp file, fsync, rename, fsync the directory), keeping the last good file as `.bak`.
 * Writers serialise on a cross-process lock and merge per key: an op applies only if the record
 * is still at the revision the caller last saw, so a stale writer gets a conflict, never a win.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Low } from 'lowdb';
import type { Adapter } from 'lowdb';
import { InvalidInputError, StateFileError } from './model/errors.js';
import {
  HISTORY_LIMIT,
  HistoryEntrySchema,
  KeySchema,
  SCHEMA_VERSION,
  SessionRecordSchema,
  StateDocumentSchema,
  emptyDocument,
} from './model/schema.js';
import type { HistoryEntry, SessionRecord, StateDocument } from './model/schema.js';

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
}

export interface CommitResult {
  /** Keys applied: the record now in the file, or null when deleted. */
  applied: Map<string, SessionRecord | null>;
  /** Keys refused because the file's stamp differs from `expect`: what the file holds now (null = absent). */
  conflicts: Map<string, SessionRecord | null>;
  /** The document as written (or as read, if nothing was applied). Shared and frozen: never mutate it. */
  document: StateDocument;
}

export interface StateStoreOptions {
  /** A lock older than this is taken to be left by a killed process and is taken over (min 2000). */
  lockStaleMs?: number;
  /** How long a commit waits for another process's lock before failing with STATE_IO. */
  lockWaitMs?: number;
}

/** `$WARDEN_STATE`, else `$XDG_STATE_HOME/tmux-warden/state.json`, else `~/.local/state/tmux-warden/state.json`. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WARDEN_STATE) return path.resolve(env.WARDEN_STATE);
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'tmux-warden', 'state.json');
  const home = env.HOME || os.homedir();
  return path.join(home, '.local', 'state', 'tmux-warden', 'state.json');
}

// ---------------------------------------------------------------------------------------------
// Reading: parse, migrate, validate.

/**
 * `migrations[n]` turns a version-n document into a version n+1 document. Applied on read, before
 * validation; the file itself is rewritten in the new version by the next commit. Version 1 is the
 * first, so there are none yet.
 */
export type Migration = (document: Record<string, unknown>) => Record<string, unknown>;
export const migrations: Readonly<Record<number, Migration>> = {};

function repairHint(file: string): string {
  return `fix or remove it, or restore ${file}.bak with 'warden doctor --repair'`;
}

function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function invalid(file: string, what: string, cause?: unknown): StateFileError {
  return new StateFileError('STATE_INVALID', file, `state file ${file} ${what}: ${repairHint(file)}`, cause);
}

/** Brings a parsed document up to SCHEMA_VERSION; refuses documents from a newer tmux-warden. */
export function migrateDocument(
  raw: unknown,
  file: string,
  table: Readonly<Record<number, Migration>> = migrations,
): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  let doc = raw as Record<string, unknown>;
  let version = doc.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version)) return doc;
  if (version > SCHEMA_VERSION) {
    throw new StateFileError(
      'STATE_INVALID',
      file,
      `state file ${file} was written by a newer tmux-warden (schema version ${version}, this one reads up to ${SCHEMA_VERSION}): upgrade tmux-warden`,
      undefined,
      { newerSchema: true },
    );
  }
  while (version < SCHEMA_VERSION) {
    const step = table[version];
    if (!step) throw invalid(file, `has schema version ${version}, which this tmux-warden cannot migrate`);
    doc = step(doc);
    version += 1;
    doc.schemaVersion = version;
  }
  return doc;
}

function describeIssues(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const [first] = error.issues;
  if (!first) return 'invalid';
  const where = first.path.length > 0 ? first.path.map(String).join('.') : 'document';
  const more = error.issues.length > 1 ? `; and ${error.issues.length - 1} more` : '';
  return `${where}: ${first.message}${more}`;
}

/** Parses file bytes into a validated, current-version document, or throws STATE_INVALID. */
export function parseStateDocument(text: string, file: string): StateDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `is not valid JSON (${oneLine(err instanceof Error ? err.message : String(err))})`, err);
  }
  const migrated = migrateDocument(raw, file);
  const result = StateDocumentSchema.safeParse(migrated);
  if (!result.success) {
    throw invalid(file, `does not match the state schema (${oneLine(describeIssues(result.error))})`, result.error);
  }
  return freezeDocument(result.data.sessions, result.data.history);
}

/**
 * Documents are shared between the store's cache and its callers, so they are frozen (the
 * document, the sessions map, the history array and each record; not the snapshots inside).
 * The sessions map has no prototype, so `sessions['constructor']` is undefined, not a function.
 */
function freezeDocument(sessions: Record<string, SessionRecord>, history: HistoryEntry[]): StateDocument {
  const map = Object.assign(Object.create(null) as Record<string, SessionRecord>, sessions);
  for (const key in map) Object.freeze(map[key]);
  return Object.freeze({
    schemaVersion: SCHEMA_VERSION,
    sessions: Object.freeze(map),
    history: Object.freeze(history) as HistoryEntry[],
  });
}

// ---------------------------------------------------------------------------------------------
// Writing: the durable adapter.

/** What identifies one version of the file without reading it. */
interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}
type SeenFile = FileIdentity | 'absent';

function identityOf(st: { ino: number; size: number; mtimeMs: number }): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

function sameFile(a: SeenFile | null, b: SeenFile): boolean {
  if (a === null) return false;
  if (a === 'absent' || b === 'absent') return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function describeError(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

function ioError(file: string, message: string, cause?: unknown): StateFileError {
  return new StateFileError('STATE_IO', file, message, cause);
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory; the renames are still atomic there.
    if (!['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoCode(err) ?? '')) throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}

function uniqueSibling(file: string, tag: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${tag}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * lowdb adapter for the state file. `read` validates (a missing file is an empty document);
 * `write` replaces the file atomically and durably. Both record the identity of the file they saw.
 */
class DurableStateFile implements Adapter<StateDocument> {
  /** The file as last read or written through this adapter (null: not yet). */
  seen: SeenFile | null = null;
  /** Called just before the new file replaces the old one; throwing aborts the write. */
  beforeReplace: (() => Promise<void>) | null = null;

  constructor(
    readonly file: string,
    readonly backupFile: string,
  ) {}

  async read(): Promise<StateDocument> {
    let handle: FileHandle;
    try {
      handle = await open(this.file, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        this.seen = 'absent';
        return freezeDocument(emptyDocument().sessions, []);
      }
      throw ioError(this.file, `cannot read state file ${this.file} (${describeError(err)}): check that it and its directory are readable`, err);
    }
    let text: string;
    let identity: FileIdentity;
    try {
      // fstat the open file, so the identity is exactly that of the bytes read.
      identity = identityOf(await handle.stat());
      text = await handle.readFile('utf8');
    } catch (err) {
      throw ioError(this.file, `cannot read state file ${this.file} (${describeError(err)}): check that it is a readable file`, err);
    } finally {
      await handle.close().catch(() => {});
    }
    const document = parseStateDocument(text, this.file);
    this.seen = identity;
    return document;
  }

  async write(document: StateDocument): Promise<void> {
    const dir = path.dirname(this.file);
    const json = JSON.stringify(document);
    const temp = uniqueSibling(this.file, 'new');
    let backupTemp: string | null = null;
    let handle: FileHandle | undefined;
    let tempExists = false;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      handle = await open(temp, 'wx', 0o600);
      tempExists = true;
      await handle.chmod(0o600); // whatever the umask
      await handle.writeFile(json, 'utf8');
      await handle.sync();
      const written = identityOf(await handle.stat());
      await handle.close();
      handle = undefined;

      // Keep the current (validated) file as .bak: link it under a unique name, then rename that
      // over .bak, so .bak is replaced atomically and always holds a complete good file.
      backupTemp = uniqueSibling(this.backupFile, 'link');
      try {
        await link(this.file, backupTemp);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') backupTemp = null; // first write: nothing to keep
        else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'EMLINK') {
          await copyFile(this.file, backupTemp, fsConstants.COPYFILE_EXCL); // no hard links here
        } else throw err;
      }
      if (backupTemp !== null) {
        await rename(backupTemp, this.backupFile);
        // When .bak already is a link to this same file (a write that failed after re-linking it),
        // rename(2) does nothing and leaves the temp link behind.
        await unlink(backupTemp).catch(() => {});
        backupTemp = null;
      }

      await this.beforeReplace?.();
      await rename(temp, this.file);
      tempExists = false;
      this.seen = written;
    } catch (err) {
      await handle?.close().catch(() => {});
      if (tempExists) await unlink(temp).catch(() => {});
      if (backupTemp !== null) await unlink(backupTemp).catch(() => {});
      if (err instanceof StateFileError) throw err;
      throw ioError(
        this.file,
        `cannot write state file ${this.file} (${describeError(err)}): check permissions and free space in ${dir}; the file was left as it was (last good copy: ${this.backupFile})`,
        err,
      );
    }
    try {
      await fsyncDirectory(dir);
    } catch (err) {
      throw ioError(
        this.file,
        `state file ${this.file} was replaced but ${dir} could not be synced (${describeError(err)}): the change may not survive a crash`,
        err,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Merging.

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
    throw ioError(
      file,
      `refusing to write state file ${file}: it would drop ${lost} session(s) nobody deleted (a bug in tmux-warden; nothing was written)`,
    );
  }
}

function recordAt(sessions: Record<string, SessionRecord>, key: string): SessionRecord | null {
  return Object.hasOwn(sessions, key) ? (sessions[key] ?? null) : null;
}

function stampMatches(current: SessionRecord | null, expect: RecordStamp | null): boolean {
  if (expect === null) return current === null;
  return current !== null && current.rev === expect.rev && current.updatedAt === expect.updatedAt;
}

/** Now, but strictly after `floorMs`: two writes of a key in one millisecond still get distinct stamps. */
function stampAfter(floorMs: number): string {
  const now = Date.now();
  return new Date(Number.isFinite(floorMs) && now <= floorMs ? floorMs + 1 : now).toISOString();
}

const RecordContentSchema = SessionRecordSchema.omit({ rev: true, updatedAt: true });
const HistoryListSchema = HistoryEntrySchema.array();

interface CheckedOp {
  key: string;
  expect: RecordStamp | null;
  record: RecordContent | null;
  history: HistoryEntry[];
}

/** Refuses, before anything is locked or written, ops that would make the file invalid. */
function checkOps(ops: readonly CommitOp[]): CheckedOp[] {
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

// ---------------------------------------------------------------------------------------------
// The store.

const DEFAULT_LOCK_STALE_MS = 5000;
const DEFAULT_LOCK_WAIT_MS = 15_000;
const MIN_LOCK_STALE_MS = 2000; // proper-lockfile's floor

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** The lock went away before the file was replaced: nothing was written, so the commit may retry. */
class LockLostError extends StateFileError {
  constructor(lockPath: string, message: string) {
    super('STATE_IO', lockPath, message);
  }
}
const LOCK_LOST_RETRIES = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * proper-lockfile (and the graceful-fs it patches in) is loaded on the first commit: a process
 * that only reads the file (`warden ls` with nothing to change) never pays for it.
 */
let lockfileModule: Promise<typeof import('proper-lockfile')> | null = null;
function properLockfile(): Promise<typeof import('proper-lockfile')> {
  lockfileModule ??= import('proper-lockfile').then((m) => (m as { default?: typeof import('proper-lockfile') }).default ?? m);
  return lockfileModule;
}

interface HeldLock {
  release: () => Promise<void>;
  ino: number;
  compromised: Error | null;
}

/** The state file: validated reads, atomic durable writes under a cross-process lock, per-key revisions. */
export class StateStore {
  readonly path: string;
  readonly backupPath: string;
  readonly lockPath: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private readonly adapter: DurableStateFile;
  private readonly db: Low<StateDocument>;
  /** The file identity `db.data` was read from or written as; null when `db.data` is not trusted. */
  private cachedAs: SeenFile | null = null;
  /** In-process queue: one load/commit of this instance at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Deleted keys whose last stamp may still be "now": a recreation must stamp after it. */
  private readonly tombstones = new Map<string, number>();
  private writes = 0;
  private swept = false;

  constructor(file: string, options: StateStoreOptions = {}) {
    this.path = path.resolve(file);
    this.backupPath = `${this.path}.bak`;
    this.lockPath = `${this.path}.lock`;
    this.lockStaleMs = Math.max(options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS, MIN_LOCK_STALE_MS);
    this.lockWaitMs = Math.max(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, 0);
    this.adapter = new DurableStateFile(this.path, this.backupPath);
    this.db = new Low(this.adapter, emptyDocument());
  }

  /** Number of times the state file was written by this instance (for benchmarks). */
  get writeCount(): number {
    return this.writes;
  }

  /** Read and validate; a missing file is an empty document and writes nothing. */
  load(): Promise<StateDocument> {
    return this.serialised(() => this.readFresh());
  }

  /** Lock, read + validate, apply each op whose expect matches the file, write durably if anything was applied, unlock. */
  commit(ops: CommitOp[]): Promise<CommitResult> {
    return this.serialised(async () => {
      const checked = checkOps(ops);
      // Nothing to apply: a plain read (replacing the file is atomic, so no lock is needed).
      if (checked.length === 0) return { applied: new Map(), conflicts: new Map(), document: await this.readCurrent() };
      const dir = path.dirname(this.path);
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (err) {
        throw ioError(this.path, `cannot create the state directory ${dir} (${describeError(err)}): check the path and its permissions`, err);
      }
      for (let attempt = 1; ; attempt += 1) {
        const lock = await this.acquireLock();
        try {
          await this.sweepAbandonedTemps();
          const before = await this.readCurrent();
          return await this.mergeAndWrite(before, checked, lock);
        } catch (err) {
          // Nothing was written: take the lock again, read again, merge again. (Two processes
          // taking over one stale lock can remove each other's fresh one: proper-lockfile's race.)
          if (err instanceof LockLostError && attempt < LOCK_LOST_RETRIES) continue;
          throw err;
        } finally {
          await lock.release().catch(() => {});
        }
      }
    });
  }

  /** Cheap check (one stat) whether the file changed since this instance last loaded or wrote it. */
  async changed(): Promise<boolean> {
    const now = await this.statFile();
    return !sameFile(this.adapter.seen, now);
  }

  /**
   * Lock state for `doctor`. `held`: the lock directory exists (a writer holds it, or a killed one
   * left it); `stale`: it is older than lockStaleMs, so the next commit will take it over.
   * proper-lockfile does not record the holder's pid, so only the age is knowable.
   */
  async lockInfo(): Promise<{ held: boolean; stale: boolean; ageMs: number | null }> {
    try {
      const st = await stat(this.lockPath);
      const ageMs = Math.max(0, Date.now() - st.mtimeMs);
      return { held: true, stale: ageMs > this.lockStaleMs, ageMs };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { held: false, stale: false, ageMs: null };
      throw ioError(this.lockPath, `cannot inspect the lock ${this.lockPath} (${describeError(err)})`, err);
    }
  }

  /**
   * `doctor --repair`: puts the last good file (`.bak`) back in place of a state file that does not
   * parse or validate (or is missing), under the lock. The bad file is kept beside it, renamed,
   * never deleted. Refuses when the state file is valid (restoring would drop its newer changes)
   * or when the `.bak` is missing or itself invalid.
   */
  restoreBackup(): Promise<{ restoredFrom: string; keptAs: string | null; sessions: number }> {
    return this.serialised(async () => {
      let current: 'absent' | 'invalid' | 'valid' = 'valid';
      try {
        await this.adapter.read();
        if (this.adapter.seen === 'absent') current = 'absent';
      } catch (err) {
        if (!(err instanceof StateFileError && err.code === 'STATE_INVALID')) throw err;
        // Not broken, only newer than us: rolling it back to our .bak would lose its changes.
        if (err.newerSchema) throw new StateFileError('STATE_IO', this.path, `${err.message}; it is not broken, so it is not repaired: nothing was changed`);
        current = 'invalid';
      }
      if (current === 'valid') {
        throw new StateFileError('STATE_IO', this.path, `state file ${this.path} is valid: nothing to repair (restoring ${this.backupPath} would drop its newer changes)`);
      }
      let text: string;
      try {
        const handle = await open(this.backupPath, 'r');
        try {
          text = await handle.readFile('utf8');
        } finally {
          await handle.close().catch(() => {});
        }
      } catch (err) {
        throw ioError(this.backupPath, `cannot repair ${this.path}: its backup ${this.backupPath} cannot be read (${describeError(err)}); nothing was changed`, err);
      }
      let backup: StateDocument;
      try {
        backup = parseStateDocument(text, this.backupPath);
      } catch (err) {
        throw new StateFileError('STATE_INVALID', this.backupPath, `cannot repair ${this.path}: its backup ${this.backupPath} is not a valid state file either (${describeError(err)}); nothing was changed`, err);
      }
      const lock = await this.acquireLock();
      try {
        const keptAs = current === 'invalid' ? `${this.path}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}` : null;
        const temp = uniqueSibling(this.path, 'restore');
        try {
          const handle = await open(temp, 'wx', 0o600);
          try {
            await handle.writeFile(text, 'utf8');
            await handle.sync();
          } finally {
            await handle.close().catch(() => {});
          }
          if (keptAs) await link(this.path, keptAs);
          await this.assertLockStillOurs(lock);
          await rename(temp, this.path);
        } catch (err) {
          await unlink(temp).catch(() => {});
          if (err instanceof StateFileError) throw err;
          throw ioError(this.path, `cannot repair ${this.path} (${describeError(err)}): nothing was changed`, err);
        }
        await fsyncDirectory(path.dirname(this.path));
        this.cachedAs = null;
        this.adapter.seen = null;
        return { restoredFrom: this.backupPath, keptAs, sessions: Object.keys(backup.sessions).length };
      } finally {
        await lock.release().catch(() => {});
      }
    });
  }

  /**
   * A writer killed between creating its temp file and renaming it (SIGKILL, or SIGXFSZ when a file
   * size limit is hit) leaves `.state.json.new.<pid>.<rand>.tmp` behind. Under the lock, once per
   * store, remove those whose process is gone; they were never the state file.
   */
  private async sweepAbandonedTemps(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    const dir = path.dirname(this.path);
    const names = [path.basename(this.path), path.basename(this.backupPath)].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const temp = new RegExp(`^\\.(?:${names.join('|')})\\.(?:new|link|restore)\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const pid = Number(temp.exec(name)?.[1]);
      if (!pid || pid === process.pid || pidAlive(pid)) continue;
      await unlink(path.join(dir, name)).catch(() => {});
    }
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private async statFile(): Promise<SeenFile> {
    try {
      return identityOf(await stat(this.path));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'absent';
      throw ioError(this.path, `cannot stat state file ${this.path} (${describeError(err)}): check the path and its permissions`, err);
    }
  }

  private async readFresh(): Promise<StateDocument> {
    this.cachedAs = null;
    await this.db.read();
    this.cachedAs = this.adapter.seen;
    return this.db.data;
  }

  /**
   * Every write makes a new inode (rename), so an unchanged (ino, size, mtime) means the file still
   * holds exactly the document we validated or wrote: reuse it instead of parsing and validating
   * 10,000 sessions again. Under the lock, nobody can change it before our write.
   */
  private async readCurrent(): Promise<StateDocument> {
    if (this.cachedAs !== null && sameFile(this.cachedAs, await this.statFile())) {
      this.adapter.seen = this.cachedAs;
      return this.db.data;
    }
    return this.readFresh();
  }

  private async mergeAndWrite(before: StateDocument, ops: CheckedOp[], lock: HeldLock): Promise<CommitResult> {
    const applied = new Map<string, SessionRecord | null>();
    const conflicts = new Map<string, SessionRecord | null>();
    const deleted = new Set<string>();
    const newHistory: HistoryEntry[] = [];
    let sessions: Record<string, SessionRecord> | null = null; // copied on the first applied op

    const now = Date.now();
    for (const [key, ms] of this.tombstones) if (ms < now) this.tombstones.delete(key);

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
          this.tombstones.set(op.key, Date.parse(current.updatedAt));
        }
        applied.set(op.key, null);
      } else {
        const floor = current !== null ? Date.parse(current.updatedAt) : (this.tombstones.get(op.key) ?? Number.NaN);
        const record: SessionRecord = Object.freeze({
          rev: (current?.rev ?? 0) + 1,
          updatedAt: stampAfter(floor),
          ...op.record,
        });
        sessions[op.key] = record;
        applied.set(op.key, record);
      }
      newHistory.push(...op.history);
    }

    if (sessions === null) return { applied, conflicts, document: before };

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
    assertNotPromotingEmpty(before, after, deleted, this.path);

    this.cachedAs = null; // until the write is known to have landed
    this.db.data = after;
    this.adapter.beforeReplace = () => this.assertLockStillOurs(lock);
    try {
      await this.db.write();
    } catch (err) {
      this.db.data = before;
      throw err;
    } finally {
      this.adapter.beforeReplace = null;
    }
    this.writes += 1;
    this.cachedAs = this.adapter.seen;
    return { applied, conflicts, document: after };
  }

  private async acquireLock(): Promise<HeldLock> {
    const lockfile = await properLockfile();
    const deadline = Date.now() + this.lockWaitMs;
    let delay = 5;
    for (;;) {
      const held: HeldLock = { release: async () => {}, ino: 0, compromised: null };
      try {
        held.release = await lockfile.lock(this.path, {
          lockfilePath: this.lockPath,
          realpath: false,
          stale: this.lockStaleMs,
          retries: 0,
          // The default throws from a timer and kills the process; the commit checks this instead.
          onCompromised: (err) => {
            held.compromised = err;
          },
        });
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED') {
          throw ioError(
            this.lockPath,
            `cannot take the lock ${this.lockPath} (${describeError(err)}): check that ${path.dirname(this.path)} is writable and has free space; ${this.path} was left as it was (last good copy: ${this.backupPath})`,
            err,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw ioError(
            this.lockPath,
            `state file ${this.path} is locked by another process (lock ${this.lockPath} still held after ${this.lockWaitMs} ms): retry, or remove ${this.lockPath} if no warden process is running`,
            err,
          );
        }
        await sleep(Math.min(left, delay + Math.random() * delay));
        delay = Math.min(delay * 2, 100);
        continue;
      }
      try {
        held.ino = (await stat(this.lockPath)).ino;
      } catch (err) {
        held.compromised = err instanceof Error ? err : new Error(String(err));
      }
      return held;
    }
  }

  /**
   * Just before replacing the file: if our lock was lost (compromised, removed, taken over, or old
   * enough that another process may take it over), another writer may have read the file already,
   * so replacing it could lose their update. Fail instead.
   */
  private async assertLockStillOurs(lock: HeldLock): Promise<void> {
    let reason: string | null = lock.compromised ? describeError(lock.compromised) : null;
    if (reason === null) {
      try {
        const st = await stat(this.lockPath);
        if (st.ino !== lock.ino) reason = 'another process took it over';
        else if (Date.now() - st.mtimeMs > this.lockStaleMs) reason = 'it went stale';
      } catch (err) {
        reason = describeError(err);
      }
    }
    if (reason !== null) {
      throw new LockLostError(
        this.lockPath,
        `lost the lock ${this.lockPath} while writing ${this.path} (${reason}): nothing was written; retry`,
      );
    }
  }
}
