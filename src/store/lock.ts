/**
 * The cross-process lock writers serialise on: a directory beside the state file holding
 * `owner.json`, the holder named by pid + process start time + boot id (invariant 11). It appears
 * atomically (a temporary directory with the owner inside is renamed into place) and is stale
 * only when its holder is gone: never because of its age, so a holder stopped (SIGSTOP, Ctrl-Z, a
 * VM pause) or a clock stepped keeps it. No time in it comes from the wall clock.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { StateFileError } from '../model/errors.js';
import { processAlive, processStartTime } from '../tmux/host.js';
import type { StateFilePaths } from './paths.js';
import { temporarySibling } from './paths.js';
import { describeError, errnoCode, stateIoError } from './state-file-errors.js';
import type { LockState } from './store.js';

const DEFAULT_LOCK_WAIT_MS = 15_000;
const OWNER_FILE = 'owner.json';

/** The lock went away before the file was replaced: nothing was written, so the commit may retry. */
export class LockLostError extends StateFileError {
  constructor(lockPath: string, message: string) {
    super('STATE_IO', lockPath, message);
  }
}
/** A commit whose lock was lost takes it again and merges again, this many times at most. */
export const LOCK_LOST_RETRIES = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC: one clock for every process of a boot). */
const monotonicMs = () => Number(process.hrtime.bigint() / 1_000_000n);

/** Who holds a lock, as written in its `owner.json`. */
export interface LockHolder {
  pid: number;
  host: string;
  /** Boot id and start ticks of the holder (null where /proc cannot say). */
  bootId: string | null;
  startTicks: number | null;
  /** When it was taken, on the monotonic clock of boot `bootId`. */
  takenAtMs: number;
  /** Unique per acquisition: the same process taking the lock twice holds two different locks. */
  token: string;
}

function thisProcess(): LockHolder {
  const start = processStartTime(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    bootId: start?.bootId ?? null,
    startTicks: start?.startTicks ?? null,
    takenAtMs: monotonicMs(),
    token: randomBytes(12).toString('hex'),
  };
}

/** Is the holder's process still running? Another host's holder cannot be judged: it is kept. */
export function holderAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  const start = holder.bootId !== null && holder.startTicks !== null ? { bootId: holder.bootId, startTicks: holder.startTicks } : null;
  if (start && start.bootId !== processStartTime(process.pid)?.bootId) return false; // a previous boot
  return processAlive(holder.pid, start);
}

function parseHolder(text: string): LockHolder | null {
  try {
    const raw = JSON.parse(text) as Partial<LockHolder>;
    if (typeof raw.pid !== 'number' || typeof raw.token !== 'string' || typeof raw.host !== 'string') return null;
    return {
      pid: raw.pid,
      host: raw.host,
      bootId: typeof raw.bootId === 'string' ? raw.bootId : null,
      startTicks: typeof raw.startTicks === 'number' ? raw.startTicks : null,
      takenAtMs: typeof raw.takenAtMs === 'number' ? raw.takenAtMs : 0,
      token: raw.token,
    };
  } catch {
    return null;
  }
}

/**
 * What is at a lock path: nothing, a holder, or a directory without a readable owner (left by an
 * older tmux-warden, whose proper-lockfile lock named nobody: taken to be abandoned).
 */
type Seen = { kind: 'free' } | { kind: 'held'; holder: LockHolder } | { kind: 'nameless' };

async function look(lockPath: string): Promise<Seen> {
  let text: string;
  try {
    text = await readFile(path.join(lockPath, OWNER_FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    try {
      await readFile(lockPath); // EISDIR: the directory is there, with no owner in it
    } catch (inner) {
      if (errnoCode(inner) === 'ENOENT') return { kind: 'free' };
    }
    return { kind: 'nameless' };
  }
  const holder = parseHolder(text);
  return holder ? { kind: 'held', holder } : { kind: 'nameless' };
}

/** Puts a directory holding `holder` at `target` in one rename; false when something is there already. */
async function claim(target: string, holder: LockHolder, statePath: string): Promise<boolean> {
  const temp = temporarySibling(statePath, 'lock');
  await mkdir(temp, { mode: 0o700 });
  try {
    await writeFile(path.join(temp, OWNER_FILE), JSON.stringify(holder), { mode: 0o600 });
    await rename(temp, target);
    return true;
  } catch (err) {
    if (['ENOTEMPTY', 'EEXIST', 'EISDIR', 'ENOTDIR'].includes(errnoCode(err) ?? '')) return false;
    throw err;
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Removes the lock at `target` if it still is `seen` (the same holder's token, or still nameless),
 * by renaming it aside first: a lock that turns out to be another one is put back.
 */
async function removeIfStill(target: string, seen: Seen, statePath: string): Promise<void> {
  const aside = temporarySibling(statePath, 'stale');
  try {
    await rename(target, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = await look(aside);
  const same =
    (seen.kind === 'nameless' && moved.kind === 'nameless') ||
    (seen.kind === 'held' && moved.kind === 'held' && moved.holder.token === seen.holder.token);
  if (!same) {
    // Another process took it over in between: give it back (if that fails, its holder finds
    // its lock gone before replacing the file, and retries).
    await rename(aside, target).catch(() => {});
  }
  await rm(aside, { recursive: true, force: true }).catch(() => {});
}

export interface HeldLock {
  holder: LockHolder;
  release: () => Promise<void>;
}

export interface StateFileLockOptions {
  /** @deprecated Ignored: a lock is stale only when its holder's process is gone, whatever its age. */
  lockStaleMs?: number | undefined;
  /** How long taking the lock waits for a live holder before failing with STATE_IO. */
  lockWaitMs?: number | undefined;
}

export class StateFileLock {
  readonly waitMs: number;
  /** Taking over an abandoned lock is itself done under a lock, so two takers never both win. */
  private readonly takeoverPath: string;
  /** The lock (its token) this store last gave up waiting for. */
  private waitedOutToken: string | null = null;

  constructor(
    private readonly paths: StateFilePaths,
    options: StateFileLockOptions = {},
  ) {
    this.waitMs = Math.max(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS, 0);
    this.takeoverPath = `${paths.lockPath}.takeover`;
  }

  async acquire(): Promise<HeldLock> {
    const { path: file, backupPath, lockPath } = this.paths;
    const deadline = monotonicMs() + this.waitMs;
    let delay = 5;
    for (;;) {
      const holder = thisProcess();
      try {
        if (await claim(lockPath, holder, file)) {
          return { holder, release: () => removeIfStill(lockPath, { kind: 'held', holder }, file) };
        }
        const seen = await look(lockPath);
        if (seen.kind === 'free') continue;
        if (seen.kind === 'nameless' || !holderAlive(seen.holder)) {
          await this.takeOver(seen);
          continue;
        }
        const left = deadline - monotonicMs();
        if (left <= 0 || seen.holder.token === this.waitedOutToken) {
          // A holder waited out once is not waited for again by this store: one call, one wait.
          this.waitedOutToken = seen.holder.token;
          const { pid } = seen.holder;
          throw stateIoError(
            lockPath,
            `state file ${file} is locked by process ${pid}, which is still running (lock ${lockPath}; a stopped process keeps it: 'kill -CONT ${pid}', or end it): retry when it is done`,
          );
        }
        await sleep(Math.min(left, delay + Math.random() * delay));
        delay = Math.min(delay * 2, 100);
      } catch (err) {
        if (err instanceof StateFileError) throw err;
        throw stateIoError(
          lockPath,
          `cannot take the lock ${lockPath} (${describeError(err)}): check that ${path.dirname(file)} is writable and has free space; ${file} was left as it was (last good copy: ${backupPath})`,
          err,
        );
      }
    }
  }

  /** Removes an abandoned lock, holding the take-over lock (itself taken over only from a dead holder). */
  private async takeOver(abandoned: Seen): Promise<void> {
    const { path: file, lockPath } = this.paths;
    const me = thisProcess();
    if (!(await claim(this.takeoverPath, me, file))) {
      const other = await look(this.takeoverPath);
      if (other.kind === 'nameless' || (other.kind === 'held' && !holderAlive(other.holder))) {
        await removeIfStill(this.takeoverPath, other, file);
      } else {
        await sleep(1); // another process is taking it over right now
      }
      return;
    }
    try {
      const now = await look(lockPath);
      const same =
        (abandoned.kind === 'nameless' && now.kind === 'nameless') ||
        (abandoned.kind === 'held' && now.kind === 'held' && now.holder.token === abandoned.holder.token);
      if (same) await removeIfStill(lockPath, now, file);
    } finally {
      await removeIfStill(this.takeoverPath, { kind: 'held', holder: me }, file);
    }
  }

  /**
   * Just before replacing the file: the lock must still be ours (the same token). A holder is never
   * judged stale while it lives, so this fails only when the lock was removed by hand or taken
   * over in a race; then another writer may have read the file already and replacing it could
   * lose their update.
   */
  async assertStillHeld(lock: HeldLock): Promise<void> {
    const { path: file, lockPath } = this.paths;
    let reason: string | null;
    try {
      const seen = await look(lockPath);
      reason =
        seen.kind === 'held' && seen.holder.token === lock.holder.token
          ? null
          : seen.kind === 'free'
            ? 'it was removed'
            : 'another process took it over';
    } catch (err) {
      reason = describeError(err);
    }
    if (reason !== null) {
      throw new LockLostError(lockPath, `lost the lock ${lockPath} while writing ${file} (${reason}): nothing was written; retry`);
    }
  }

  /** For `doctor`: who holds the lock, whether that process still runs, and for how long it has held it. */
  async inspect(): Promise<LockState> {
    const { lockPath } = this.paths;
    let seen: Seen;
    try {
      seen = await look(lockPath);
    } catch (err) {
      throw stateIoError(lockPath, `cannot inspect the lock ${lockPath} (${describeError(err)})`, err);
    }
    if (seen.kind === 'free') return { held: false, stale: false, ageMs: null, holderPid: null };
    if (seen.kind === 'nameless') return { held: true, stale: true, ageMs: null, holderPid: null };
    const { holder } = seen;
    const sameBoot = holder.bootId !== null && holder.bootId === processStartTime(process.pid)?.bootId;
    return {
      held: true,
      stale: !holderAlive(holder),
      ageMs: sameBoot ? Math.max(0, monotonicMs() - holder.takenAtMs) : null,
      holderPid: holder.pid,
    };
  }
}
