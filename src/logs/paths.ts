/**
 * Where sessions' logs live: `<logs>/<key>/<sessionId>.log`, its rotated predecessors
 * `<sessionId>.log.1` (newest) … `.log.N`, and the time marks `<sessionId>.marks` that `--since`
 * reads. Each state file has its own logs directory beside it: `logs/` for the default
 * `$XDG_STATE_HOME/tmux-warden/state.json`, `NAME.logs/` for another state file `NAME.json`. Two
 * state files never share one, so one's retention never sees the other's live sessions as ended.
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';

/** A session's output is as private as its command and environment. */
export const LOG_DIRECTORY_MODE = 0o700;
export const LOG_FILE_MODE = 0o600;

export function defaultLogDirectory(stateFile: string): string {
  const resolved = path.resolve(stateFile);
  const name = path.basename(resolved);
  return path.join(path.dirname(resolved), name === 'state.json' ? 'logs' : `${name.replace(/\.json$/, '')}.logs`);
}

/** The log a session's pane appends to. Keys and session ids are safe file names by their schemas. */
export function sessionLogPath(logDirectory: string, key: string, sessionId: string): string {
  return path.join(logDirectory, key, `${sessionId}.log`);
}

/** `generation` 0 is the file being written; 1 the newest rotated one. */
export function rotatedLogPath(logFile: string, generation: number): string {
  return generation === 0 ? logFile : `${logFile}.${generation}`;
}

export function marksPath(logFile: string): string {
  return logFile.replace(/\.log$/, '') + '.marks';
}

/**
 * Every file that belongs to the log `logFile`: its rotations and marks. Matches the names in a
 * key's directory, so removing a session's log removes all of them.
 */
export function belongsToLog(logFile: string, name: string): boolean {
  const base = path.basename(logFile);
  return name === base || name === path.basename(marksPath(logFile)) || new RegExp(`^${escape(base)}\\.\\d+$`).test(name);
}

/** Creates the key's directory (and the logs directory) with mode 0700, tightening existing ones. */
export async function ensureLogDirectory(logFile: string): Promise<void> {
  const keyDir = path.dirname(logFile);
  await mkdir(keyDir, { recursive: true, mode: LOG_DIRECTORY_MODE });
  for (const dir of [path.dirname(keyDir), keyDir]) await chmod(dir, LOG_DIRECTORY_MODE);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
