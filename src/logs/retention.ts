/**
 * Retention of ended sessions' logs: a pure planner (which logs go, and why) and an applier.
 * A log whose session is still in the state file is never removed, whatever its size or age;
 * neither is one written in the last few minutes (a spawn under way has a log before its record
 * is read back by whoever plans).
 */
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LogSettings } from '../model/log-settings.js';

export interface SessionLog {
  key: string;
  sessionId: string;
  /** The files that make it up (rotations, marks). */
  files: string[];
  bytes: number;
  /** When any of its files was last written. */
  lastWriteMs: number;
}

export interface RetentionPlan {
  remove: { log: SessionLog; reason: 'age' | 'total-size' }[];
  /** Bytes ended sessions' logs hold after the plan is applied. */
  keptBytes: number;
}

/** Logs younger than this are never removed. */
export const RETENTION_GRACE_MS = 5 * 60_000;
const DAY_MS = 24 * 60 * 60_000;

export function planRetention(
  logs: readonly SessionLog[],
  liveSessionIds: ReadonlySet<string>,
  settings: Pick<LogSettings, 'retainDays' | 'retainTotalSize'>,
  now: number,
): RetentionPlan {
  const ended = logs
    .filter((log) => !liveSessionIds.has(log.sessionId) && now - log.lastWriteMs >= RETENTION_GRACE_MS)
    .sort((a, b) => a.lastWriteMs - b.lastWriteMs);
  const protectedBytes = logs.filter((log) => !ended.includes(log) && !liveSessionIds.has(log.sessionId)).reduce((n, l) => n + l.bytes, 0);
  const remove: RetentionPlan['remove'] = [];
  let keptBytes = protectedBytes + ended.reduce((n, l) => n + l.bytes, 0);
  for (const log of ended) {
    const tooOld = settings.retainDays > 0 && now - log.lastWriteMs > settings.retainDays * DAY_MS;
    const tooMuch = settings.retainTotalSize > 0 && keptBytes > settings.retainTotalSize;
    if (!tooOld && !tooMuch) continue;
    remove.push({ log, reason: tooOld ? 'age' : 'total-size' });
    keptBytes -= log.bytes;
  }
  return { remove, keptBytes };
}

/** Every session's log under the logs directory, grouped by key and session id. */
export async function scanLogs(logDirectory: string): Promise<SessionLog[]> {
  const logs: SessionLog[] = [];
  for (const key of await readdir(logDirectory).catch(() => [] as string[])) {
    const keyDir = path.join(logDirectory, key);
    const bySession = new Map<string, SessionLog>();
    for (const name of await readdir(keyDir).catch(() => [] as string[])) {
      const sessionId = /^(.+?)\.(?:log(?:\.\d+)?|marks)$/.exec(name)?.[1];
      const info = sessionId ? await stat(path.join(keyDir, name)).catch(() => null) : null;
      if (!sessionId || !info?.isFile()) continue;
      const log = bySession.get(sessionId) ?? { key, sessionId, files: [], bytes: 0, lastWriteMs: 0 };
      log.files.push(path.join(keyDir, name));
      log.bytes += info.size;
      log.lastWriteMs = Math.max(log.lastWriteMs, info.mtimeMs);
      bySession.set(sessionId, log);
    }
    logs.push(...bySession.values());
  }
  return logs;
}

/** Removes the planned logs, and key directories left empty. Returns the session ids removed. */
export async function applyRetention(plan: RetentionPlan): Promise<string[]> {
  const removed: string[] = [];
  const dirs = new Set<string>();
  for (const { log } of plan.remove) {
    for (const file of log.files) await rm(file, { force: true });
    dirs.add(path.dirname(log.files[0]!));
    removed.push(log.sessionId);
  }
  // rmdir refuses a directory that is not empty: one a new log appeared in stays.
  for (const dir of dirs) await rmdir(dir).catch(() => undefined);
  return removed;
}
