/**
 * Reading a session's log as one byte stream across its rotated files, and the time marks that
 * let `--since` start part way in.
 *
 * Log bytes carry no times. A mark says "at time T the file with inode I held S bytes"; warden
 * records one when it launches the pane, before it kills it, and as the watcher sees the log grow.
 * Rotation renames files, and a rename keeps the inode, so a mark still points into the right file
 * after any number of rotations (until that file is dropped). `--since T` starts at the last mark
 * taken at or before T, so it may show a little more than asked, never less.
 */
import { appendFile, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LOG_FILE_MODE, marksPath, rotatedLogPath } from './paths.js';

export interface LogPart {
  path: string;
  ino: number;
  size: number;
  mtimeMs: number;
  /** 0 where the file system does not say. */
  birthtimeMs: number;
}

/** A position in the stream: a part's index and an offset into it. */
export interface LogPosition {
  part: number;
  offset: number;
}

export interface LogMark {
  at: number;
  ino: number;
  size: number;
}

/** The log's files that exist, oldest first (`.N` … `.1`, then the file being written). */
export async function logParts(logFile: string): Promise<LogPart[]> {
  const base = path.basename(logFile);
  const names = await readdir(path.dirname(logFile)).catch(() => [] as string[]);
  const generations = names
    .map((name) => (name.startsWith(`${base}.`) ? Number(name.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a);
  const parts: LogPart[] = [];
  for (const generation of [...generations, 0]) {
    const file = rotatedLogPath(logFile, generation);
    const info = await stat(file).catch(() => null);
    if (info?.isFile()) parts.push({ path: file, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, birthtimeMs: info.birthtimeMs });
  }
  return parts;
}

/** The stream's bytes from `from` (the start by default) to the end, files joined in order. */
export async function readLogBytes(parts: readonly LogPart[], from: LogPosition = { part: 0, offset: 0 }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = from.part; i < parts.length; i++) {
    const bytes = await readFile(parts[i]!.path).catch(() => Buffer.alloc(0));
    chunks.push(i === from.part ? bytes.subarray(Math.min(from.offset, bytes.length)) : bytes);
  }
  return Buffer.concat(chunks);
}

/** The last `maxBytes` of the stream (all of it when shorter), without reading the rest. */
export async function readLogTail(parts: readonly LogPart[], maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let wanted = maxBytes;
  for (let i = parts.length - 1; i >= 0 && wanted > 0; i--) {
    const handle = await open(parts[i]!.path, 'r').catch(() => null);
    if (!handle) continue;
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, wanted);
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await handle.read(chunk, 0, length, size - length);
      chunks.unshift(chunk.subarray(0, bytesRead));
      wanted -= bytesRead;
    } finally {
      await handle.close();
    }
  }
  return Buffer.concat(chunks);
}

/** Marks past this size are thinned to those still pointing into an existing file. */
const MARKS_FILE_LIMIT = 64 * 1024;

/**
 * Records where the log stands now. Skipped when the log does not exist yet or when the last
 * mark is younger than `minSpacingMs` and the log has not rotated since (a watcher calls this often).
 */
export async function recordMark(logFile: string, options: { at?: number; minSpacingMs?: number } = {}): Promise<void> {
  const at = options.at ?? Date.now();
  const info = await stat(logFile).catch(() => null);
  if (!info) return;
  const file = marksPath(logFile);
  let marks: LogMark[] | null = null;
  if (options.minSpacingMs) {
    marks = await readMarks(logFile);
    const last = marks.at(-1);
    if (last && last.ino === info.ino && (last.size === info.size || at - last.at < options.minSpacingMs)) return;
  }
  const line = `${at} ${info.ino} ${info.size}\n`;
  const size = (await stat(file).catch(() => null))?.size ?? 0;
  if (size < MARKS_FILE_LIMIT) {
    await appendFile(file, line, { mode: LOG_FILE_MODE });
    return;
  }
  const present = new Set((await logParts(logFile)).map((p) => p.ino));
  const kept = (marks ?? (await readMarks(logFile))).filter((m) => present.has(m.ino)).slice(-512);
  await writeFile(file, kept.map((m) => `${m.at} ${m.ino} ${m.size}\n`).join('') + line, { mode: LOG_FILE_MODE });
}

export async function readMarks(logFile: string): Promise<LogMark[]> {
  const text = await readFile(marksPath(logFile), 'utf8').catch(() => '');
  const marks: LogMark[] = [];
  for (const line of text.split('\n')) {
    const [at, ino, size] = line.split(' ').map(Number);
    if (Number.isFinite(at) && Number.isFinite(ino) && Number.isFinite(size)) marks.push({ at: at!, ino: ino!, size: size! });
  }
  return marks.sort((a, b) => a.at - b.at);
}

/**
 * Where output written since `since` starts: at the last mark taken at or before it that still
 * points into a file, else the start of the oldest file kept (what a dropped file held is older
 * than everything kept). Never later than the truth; at most one mark interval earlier.
 */
export function positionSince(parts: readonly LogPart[], marks: readonly LogMark[], since: number): LogPosition {
  const before = marks.filter((m) => m.at <= since);
  const last = before.at(-1);
  // A dropped file's inode can be reused by a newer file: a mark older than the file is not its.
  const part = last ? parts.findIndex((p) => p.ino === last.ino && Math.floor(p.birthtimeMs) <= last.at) : -1;
  if (!last || part < 0) return { part: 0, offset: 0 };
  return { part, offset: Math.min(last.size, parts[part]!.size) };
}
