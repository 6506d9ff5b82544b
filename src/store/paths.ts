/**
 * Where the state file lives and what else the store keeps beside it: the `.bak`, the lock, and
 * temporaries named so that one left by a killed writer can be recognised and swept.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** `$WARDEN_STATE`, else `$XDG_STATE_HOME/tmux-warden/state.json`, else `~/.local/state/tmux-warden/state.json`. */
export function defaultStatePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WARDEN_STATE) return path.resolve(env.WARDEN_STATE);
  // The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const xdg = env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'tmux-warden', 'state.json');
  const home = env.HOME || os.homedir();
  return path.join(home, '.local', 'state', 'tmux-warden', 'state.json');
}

export interface StateFilePaths {
  /** The state file, absolute. */
  path: string;
  /** The last good state file, replaced on every write. */
  backupPath: string;
  /** The cross-process lock: a directory holding owner.json (lock.ts). */
  lockPath: string;
}

export function stateFilePaths(file: string): StateFilePaths {
  const resolved = path.resolve(file);
  return { path: resolved, backupPath: `${resolved}.bak`, lockPath: `${resolved}.lock` };
}

/** Sessions' commands, working directories and environments are private to the user. */
export const STATE_DIRECTORY_MODE = 0o700;
export const STATE_FILE_MODE = 0o600;

/**
 * What a temporary is for: the next state file, the next `.bak` link, a restored backup, a lock
 * directory being put in place, or an abandoned lock being removed.
 */
const TEMPORARY_TAGS = ['new', 'link', 'restore', 'lock', 'stale'] as const;
export type TemporaryTag = (typeof TEMPORARY_TAGS)[number];

/** Unique, so concurrent writers never share one; carries the pid, so the sweep can tell whose it is. */
export function temporarySibling(file: string, tag: TemporaryTag): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${tag}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Matches the names `temporarySibling` gives beside any of `files`; group 1 is the writer's pid. */
export function temporaryPattern(files: readonly string[]): RegExp {
  const names = files.map((f) => path.basename(f).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^\\.(?:${names.join('|')})\\.(?:${TEMPORARY_TAGS.join('|')})\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
}
