/**
 * The cross-process lock writers serialise on (proper-lockfile's lock directory beside the state
 * file). A lock left by a killed process is taken over once stale, so a writer must check, just
 * before replacing the file, that the lock is still its own.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { StateFileError } from '../model/errors.js';
import type { StateFilePaths } from './paths.js';
import { describeError, errnoCode, stateIoError } from './state-file-errors.js';
import type { LockState } from './store.js';

const DEFAULT_LOCK_STALE_MS = 5000;
const DEFAULT_LOCK_WAIT_MS = 15_000;
const MIN_LOCK_STALE_MS = 2000; // proper-lockfile's floor

/** The lock went away before the file was replaced: nothing was written, so the commit may retry. */
export class LockLostError extends StateFileError {
  constructor(lockPath: string, message: string) {
    super('STATE_IO', lockPath, message);
  }
}
/** Two processes taking over one stale lock can remove each other's fresh one: proper-lockfile's race. */
export const LOCK_LOST_RETRIES = 3;

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

export interface HeldLock {
  release: () => Promise<void>;
  /** The lock directory's inode when taken: another inode there means another process took it over. */
  ino: number;
  compromised: Error | null;
}

export interface StateFileLockOptions {
  /** A lock older than this is taken to be left by a killed process and is taken over (min 2000). */
  lockStaleMs?: number;
  /** How long taking the lock waits for another process's lock before failing with STATE_IO. */
  lockWaitMs?: number;
}

export class StateFileLock {
  readonly staleMs: number;
  readonly waitMs: number;

  constructor(
    private readonly paths: StateFilePaths,
    options: StateFileLockOptions = {},
  ) {
    this.staleMs = Math.max(options.lockStaleMs ?? DEFAULT_LOCK_STALE_MS, MIN_LOCK_STALE_MS);
    this.waitMs = Math.max(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, 0);
  }

  async acquire(): Promise<HeldLock> {
    const { path: file, backupPath, lockPath } = this.paths;
    const lockfile = await properLockfile();
    const deadline = Date.now() + this.waitMs;
    let delay = 5;
    for (;;) {
      const held: HeldLock = { release: async () => {}, ino: 0, compromised: null };
      try {
        held.release = await lockfile.lock(file, {
          lockfilePath: lockPath,
          realpath: false,
          stale: this.staleMs,
          retries: 0,
          // The default throws from a timer and kills the process; the commit checks this instead.
          onCompromised: (err) => {
            held.compromised = err;
          },
        });
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED') {
          throw stateIoError(
            lockPath,
            `cannot take the lock ${lockPath} (${describeError(err)}): check that ${path.dirname(file)} is writable and has free space; ${file} was left as it was (last good copy: ${backupPath})`,
            err,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw stateIoError(
            lockPath,
            `state file ${file} is locked by another process (lock ${lockPath} still held after ${this.waitMs} ms): retry, or remove ${lockPath} if no warden process is running`,
            err,
          );
        }
        await sleep(Math.min(left, delay + Math.random() * delay));
        delay = Math.min(delay * 2, 100);
        continue;
      }
      try {
        held.ino = (await stat(lockPath)).ino;
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
  async assertStillHeld(lock: HeldLock): Promise<void> {
    const { path: file, lockPath } = this.paths;
    let reason: string | null = lock.compromised ? describeError(lock.compromised) : null;
    if (reason === null) {
      try {
        const st = await stat(lockPath);
        if (st.ino !== lock.ino) reason = 'another process took it over';
        else if (Date.now() - st.mtimeMs > this.staleMs) reason = 'it went stale';
      } catch (err) {
        reason = describeError(err);
      }
    }
    if (reason !== null) {
      throw new LockLostError(lockPath, `lost the lock ${lockPath} while writing ${file} (${reason}): nothing was written; retry`);
    }
  }

  /** proper-lockfile does not record the holder's pid, so only the lock's age is knowable. */
  async inspect(): Promise<LockState> {
    const { lockPath } = this.paths;
    try {
      const st = await stat(lockPath);
      const ageMs = Math.max(0, Date.now() - st.mtimeMs);
      return { held: true, stale: ageMs > this.staleMs, ageMs };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { held: false, stale: false, ageMs: null };
      throw stateIoError(lockPath, `cannot inspect the lock ${lockPath} (${describeError(err)})`, err);
    }
  }
}
