/**
 * What the store trusts before it reads: the state file, its directory and any config that can run
 * commands belong to the current user and cannot be written by others (invariant 13). A file
 * another user could plant or change is refused with one line naming the fix, never read.
 * A symlinked state path is resolved, so every write goes through the link to its target.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../model/errors.js';
import { errnoCode } from './state-file-errors.js';

/** Links followed before giving up, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

/**
 * The path `file` stands for once every symlink in it is followed, even when the file (or some
 * of its directories) does not exist yet: a dangling link resolves to where its target will be.
 */
export function resolveLinks(file: string, depth = 0): string {
  const absolute = path.resolve(file);
  if (depth > MAX_LINKS) throw new InvalidInputError(`${file} is a loop of symbolic links: point it at a real file`);
  try {
    return realpathSync(absolute);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') return absolute;
  }
  let target: string | null = null;
  try {
    target = readlinkSync(absolute);
  } catch {
    // not a link: the file itself is missing
  }
  if (target !== null) return resolveLinks(path.resolve(path.dirname(absolute), target), depth + 1);
  const parent = path.dirname(absolute);
  return parent === absolute ? absolute : path.join(resolveLinks(parent, depth + 1), path.basename(absolute));
}

/** The user this process runs as, or null where the platform has no uids (Windows). */
function currentUser(): { uid: number; gid: number } | null {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function'
    ? { uid: process.getuid(), gid: process.getgid() }
    : null;
}

/**
 * Why `st` (the file or directory `what` names) is not the user's own, or null when it is. Writable
 * by its group is allowed only when that group is the user's own primary group (a private group).
 */
export function untrustedBecause(st: Pick<Stats, 'uid' | 'gid' | 'mode'>): string | null {
  const me = currentUser();
  if (!me) return null;
  if (st.uid !== me.uid) return `is owned by uid ${st.uid}, not by you (uid ${me.uid})`;
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  if (st.mode & 0o002) return `is writable by every user (mode ${mode})`;
  if (st.mode & 0o020 && st.gid !== me.gid) return `is writable by group ${st.gid} (mode ${mode})`;
  return null;
}

function statOrNull(target: string, follow: boolean): Stats | null {
  try {
    return follow ? statSync(target) : lstatSync(target);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Refuses a state file whose directory (or the directory of the link naming it) another user owns
 * or can write: they could plant a state file or swap it. A directory that does not exist yet is
 * fine (the store creates it, 0700).
 * @throws InvalidInputError (exit 2), one line naming the fix.
 */
export function assertTrustedStateDirectories(given: string, resolved: string): void {
  const dirs = new Set([path.dirname(path.resolve(given)), path.dirname(resolved)]);
  for (const dir of dirs) {
    const st = statOrNull(dir, true);
    const why = st && untrustedBecause(st);
    if (why) {
      throw new InvalidInputError(
        `state directory ${dir} ${why}: another user could plant or change the state there; keep the state in a directory only you can write (--state FILE, or chmod go-w ${dir} if it is yours)`,
      );
    }
  }
}

/**
 * Refuses a state file (as opened: `st` from fstat) another user owns or can write.
 * @throws InvalidInputError (exit 2).
 */
export function assertTrustedStateFile(file: string, st: Pick<Stats, 'uid' | 'gid' | 'mode'>): void {
  const why = untrustedBecause(st);
  if (why) {
    throw new InvalidInputError(
      `state file ${file} ${why}: it is not read, since another user could have planted its sessions; ${st.uid === currentUser()?.uid ? `chmod 600 ${file}` : `move it away, or use a state file of your own (--state FILE)`}`,
    );
  }
}

/**
 * Refuses a config file that can run commands (hooks) unless it and its directory are the
 * user's own and writable by nobody else. A missing file passes (the caller decides).
 * @throws InvalidInputError (exit 2).
 */
export function assertTrustedConfig(file: string): void {
  for (const [target, kind] of [
    [file, 'config'],
    [path.dirname(file), 'config directory'],
  ] as const) {
    const st = statOrNull(target, true);
    const why = st && untrustedBecause(st);
    if (why) {
      throw new InvalidInputError(
        `${kind} ${target} ${why}: its hooks would run as you, so it is not loaded; ${st.uid === currentUser()?.uid ? `chmod go-w ${target}` : `use a config of your own (--config FILE)`}`,
      );
    }
  }
}
