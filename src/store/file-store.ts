/**
 * The state file as a SessionStore: one JSON file holding every session record and the bounded
 * history, read through lowdb over the durable adapter (atomic-file.ts). Commits serialise on
 * the cross-process lock (lock.ts) and merge per key (merge.ts).
 */
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { StateFileError, WardenError } from '../model/errors.js';
import { emptyDocument } from '../model/schema.js';
import type { StateDocument } from '../model/schema.js';
import { DurableStateFile, fsyncDirectory, identifyFile, sameFile, sweepAbandonedTemporaries } from './atomic-file.js';
import type { SeenFile } from './atomic-file.js';
import { parseStateDocument } from './document.js';
import { LOCK_LOST_RETRIES, LockLostError, StateFileLock } from './lock.js';
import type { HeldLock, StateFileLockOptions } from './lock.js';
import { checkOps, mergeOps } from './merge.js';
import type { CheckedOp } from './merge.js';
import { STATE_DIRECTORY_MODE, STATE_FILE_MODE, stateFilePaths, temporarySibling } from './paths.js';
import { describeError, stateIoError } from './state-file-errors.js';
import { assertTrustedStateDirectories, assertTrustedStateFile, resolveLinks } from './trust.js';
import type { CommitOp, CommitResult, LockState, OutboxChange, RestoredBackup, SessionStore } from './store.js';

export type StateStoreOptions = StateFileLockOptions;

/** Sessions in a valid `.bak`; 0 when it is absent, unreadable or invalid (`doctor` reports those). */
async function backupSessionCount(backupPath: string): Promise<number> {
  try {
    const text = await readFile(backupPath, 'utf8');
    return Object.keys(parseStateDocument(text, backupPath).sessions).length;
  } catch {
    return 0;
  }
}

/** The state file: validated reads, atomic durable writes under a cross-process lock, per-key revisions. */
export class StateStore implements SessionStore {
  readonly path: string;
  readonly backupPath: string;
  readonly lockPath: string;
  private readonly lock: StateFileLock;
  private readonly adapter: DurableStateFile;
  private readonly db: Low<StateDocument>;
  /** The file identity `db.data` was read from or written as; null when `db.data` is not trusted. */
  private cachedAs: SeenFile | null = null;
  /** In-process queue: one load/commit of this instance at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Deleted keys whose last stamp may still be "now": a recreation must stamp after it. */
  private tombstones = new Map<string, number>();
  private writes = 0;
  private swept = false;
  /** The path as given (a symlink, maybe): its directory must be trusted too. */
  private readonly givenPath: string;
  private directoriesTrusted = false;

  constructor(file: string, options: StateStoreOptions = {}) {
    // A symlinked state file is written through: the store works on the link's target.
    this.givenPath = path.resolve(file);
    const paths = stateFilePaths(resolveLinks(file));
    this.path = paths.path;
    this.backupPath = paths.backupPath;
    this.lockPath = paths.lockPath;
    this.lock = new StateFileLock(paths, options);
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
  commit(ops: CommitOp[], outbox?: OutboxChange): Promise<CommitResult> {
    return this.serialised(async () => {
      const checked = checkOps(ops);
      // Nothing to apply: a plain read (replacing the file is atomic, so no lock is needed).
      if (checked.length === 0 && !outbox) return { applied: new Map(), conflicts: new Map(), document: await this.readCurrent() };
      const dir = path.dirname(this.path);
      try {
        await mkdir(dir, { recursive: true, mode: STATE_DIRECTORY_MODE });
      } catch (err) {
        throw stateIoError(this.path, `cannot create the state directory ${dir} (${describeError(err)}): check the path and its permissions`, err);
      }
      for (let attempt = 1; ; attempt += 1) {
        const lock = await this.lock.acquire();
        try {
          await this.sweepAbandonedTemps();
          const before = await this.readCurrent();
          return await this.mergeAndWrite(before, checked, lock, outbox);
        } catch (err) {
          // Nothing was written: take the lock again, read again, merge again.
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
    const now = await identifyFile(this.path);
    return !sameFile(this.adapter.seen, now);
  }

  /** Lock state for `doctor`: a `stale` lock is one the next commit will take over. */
  lockInfo(): Promise<LockState> {
    return this.lock.inspect();
  }

  /**
   * `doctor --repair`: puts the last good file (`.bak`) back in place of a state file that does not
   * parse or validate (or is missing), under the lock. The bad file is kept beside it, renamed,
   * never deleted. Refuses when the state file is valid (restoring would drop its newer changes)
   * or when the `.bak` is missing or itself invalid.
   */
  restoreBackup(): Promise<RestoredBackup> {
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
          assertTrustedStateFile(this.backupPath, await handle.stat());
          text = await handle.readFile('utf8');
        } finally {
          await handle.close().catch(() => {});
        }
      } catch (err) {
        if (err instanceof WardenError) throw err;
        throw stateIoError(this.backupPath, `cannot repair ${this.path}: its backup ${this.backupPath} cannot be read (${describeError(err)}); nothing was changed`, err);
      }
      let backup: StateDocument;
      try {
        backup = parseStateDocument(text, this.backupPath);
      } catch (err) {
        throw new StateFileError('STATE_INVALID', this.backupPath, `cannot repair ${this.path}: its backup ${this.backupPath} is not a valid state file either (${describeError(err)}); nothing was changed`, err);
      }
      const lock = await this.lock.acquire();
      try {
        const keptAs = current === 'invalid' ? `${this.path}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}` : null;
        const temp = temporarySibling(this.path, 'restore');
        try {
          const handle = await open(temp, 'wx', STATE_FILE_MODE);
          try {
            await handle.writeFile(text, 'utf8');
            await handle.sync();
          } finally {
            await handle.close().catch(() => {});
          }
          if (keptAs) await link(this.path, keptAs);
          await this.lock.assertStillHeld(lock);
          await rename(temp, this.path);
        } catch (err) {
          await unlink(temp).catch(() => {});
          if (err instanceof StateFileError) throw err;
          throw stateIoError(this.path, `cannot repair ${this.path} (${describeError(err)}): nothing was changed`, err);
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

  /** Once per store, under the lock: temporaries of killed writers only accumulate between runs. */
  private async sweepAbandonedTemps(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    await sweepAbandonedTemporaries(this.path, this.backupPath);
  }

  /** Every load, commit and repair first checks (once) that no other user can write the state's directory. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const task = () => {
      if (!this.directoriesTrusted) {
        assertTrustedStateDirectories(this.givenPath, this.path);
        this.directoriesTrusted = true;
      }
      return work();
    };
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  private async readFresh(): Promise<StateDocument> {
    this.cachedAs = null;
    await this.db.read();
    // A first write may land between our open (absent) and our look at the .bak: read again.
    if (this.adapter.seen === 'absent' && (await this.refuseStartingFromNothing())) await this.db.read();
    this.cachedAs = this.adapter.seen;
    return this.db.data;
  }

  /**
   * Invariant 12: a missing state file while its `.bak` holds sessions was deleted, not never
   * made. Reading it as "no sessions" would lose them, and the next write would rotate them out
   * of the `.bak` too: refuse until `doctor --repair` restores it (or the `.bak` is removed).
   * True when the file appeared meanwhile (a first write): the caller reads it again.
   */
  private async refuseStartingFromNothing(): Promise<boolean> {
    const sessions = await backupSessionCount(this.backupPath);
    if (sessions === 0) return false;
    if ((await identifyFile(this.path)) !== 'absent') return true; // written meanwhile
    throw new StateFileError(
      'STATE_INVALID',
      this.path,
      `state file ${this.path} is missing but ${this.backupPath} holds ${sessions} session(s): 'warden doctor --repair' restores it (or remove ${this.backupPath} to start with no sessions)`,
    );
  }

  /**
   * Every write makes a new inode (rename), so an unchanged (ino, size, mtime) means the file still
   * holds exactly the document we validated or wrote: reuse it instead of parsing and validating
   * 10,000 sessions again. Under the lock, nobody can change it before our write.
   */
  private async readCurrent(): Promise<StateDocument> {
    if (this.cachedAs !== null && sameFile(this.cachedAs, await identifyFile(this.path))) {
      this.adapter.seen = this.cachedAs;
      return this.db.data;
    }
    return this.readFresh();
  }

  private async mergeAndWrite(before: StateDocument, ops: CheckedOp[], lock: HeldLock, outbox?: OutboxChange): Promise<CommitResult> {
    const merge = mergeOps(before, ops, { tombstones: this.tombstones, file: this.path, outbox });
    this.tombstones = merge.tombstones;
    const { applied, conflicts, document: after, claimed, trimmed } = merge;
    if (!merge.changed) return { applied, conflicts, document: before, claimed, trimmed };

    this.cachedAs = null; // until the write is known to have landed
    this.db.data = after;
    this.adapter.beforeReplace = () => this.lock.assertStillHeld(lock);
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
    return { applied, conflicts, document: after, claimed, trimmed };
  }
}
