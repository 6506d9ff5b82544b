/**
 * What `logs` shows of a session's log: rendered as the screen showed it (or the raw bytes),
 * its last lines, from a time on, and followed as it grows.
 */
import { readFile } from 'node:fs/promises';
import { followLog } from './follow.js';
import { logParts, positionSince, readLogBytes, readLogTail, readMarks } from './files.js';
import { LogScreen, renderLog } from './screen.js';

export interface LogViewOptions {
  /** The last this many lines (all when undefined). */
  lines?: number;
  /** Only output written at or after this time (epoch ms); see files.ts for how close it gets. */
  since?: number;
  /** The bytes as the program wrote them, not rendered. */
  raw?: boolean;
}

/** Lines are at most this many when neither `lines` nor `since` bounds them: a screen's worth. */
export const DEFAULT_VIEW_LINES = 50;

/**
 * The last N lines of a long log are rendered from its tail, not replayed from its first byte:
 * this much, plus so much a line (a 20 MiB log renders in a tenth of the time). A TUI whose last
 * full redraw is older than that shows only what was drawn since.
 */
const TAIL_WINDOW_BYTES = 1024 * 1024;
const TAIL_BYTES_PER_LINE = 4096;

/** From the first line start, so a cut multi-byte character or escape sequence is not replayed. */
function fromLineStart(bytes: Buffer): Buffer {
  const nl = bytes.indexOf(0x0a);
  return nl < 0 ? bytes : bytes.subarray(nl + 1);
}

/** True when the log (or a rotation of it) exists. */
export async function logExists(logFile: string): Promise<boolean> {
  return (await logParts(logFile)).length > 0;
}

export async function viewLog(logFile: string, options: LogViewOptions = {}): Promise<string> {
  const parts = await logParts(logFile);
  const lines = options.lines ?? (options.since === undefined ? DEFAULT_VIEW_LINES : undefined);
  const window = lines === undefined || options.raw ? Infinity : TAIL_WINDOW_BYTES + lines * TAIL_BYTES_PER_LINE;
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  const bytes =
    options.since !== undefined
      ? await readLogBytes(parts, positionSince(parts, await readMarks(logFile), options.since))
      : total > window
        ? fromLineStart(await readLogTail(parts, window))
        : await readLogBytes(parts);
  if (options.raw) return rawTail(bytes, lines).toString('utf8');
  const rendered = await renderLog(bytes, { lines, scrollback: lines ?? 100_000 });
  return rendered.length ? `${rendered.join('\n')}\n` : '';
}

/** The last `lines` lines of raw bytes (an unfinished last line counts as one, as `tail` counts). */
function rawTail(bytes: Buffer, lines: number | undefined): Buffer {
  if (lines === undefined) return bytes;
  if (lines === 0) return Buffer.alloc(0);
  let at = bytes.length && bytes[bytes.length - 1] === 0x0a ? bytes.length - 1 : bytes.length;
  for (let n = 0; n < lines; n++) {
    const nl = at > 0 ? bytes.lastIndexOf(0x0a, at - 1) : -1;
    if (nl < 0) return bytes;
    at = nl;
  }
  return bytes.subarray(at + 1);
}

/**
 * Prints the last `lines` lines, then each line as the program finishes it, until `signal`
 * aborts. Raw, it prints the bytes as they come.
 */
export async function followView(
  logFile: string,
  write: (text: string) => void,
  options: LogViewOptions & { signal: AbortSignal; intervalMs?: number },
): Promise<void> {
  const parts = await logParts(logFile);
  const from = options.since === undefined ? undefined : positionSince(parts, await readMarks(logFile), options.since);
  const writing = parts.at(-1)?.path === logFile ? parts.length - 1 : parts.length;
  const current = await readFile(logFile).catch(() => Buffer.alloc(0));
  const bytes = Buffer.concat([
    await readLogBytes(parts.slice(0, writing), from),
    from && from.part === writing ? current.subarray(Math.min(from.offset, current.length)) : current,
  ]);
  // Following goes on exactly where this read stopped.
  const follow = { signal: options.signal, intervalMs: options.intervalMs, offset: current.length };
  const lines = options.lines ?? (options.since === undefined ? 10 : Number.MAX_SAFE_INTEGER);
  if (options.raw) {
    write(rawTail(bytes, lines).toString('utf8'));
    await followLog(logFile, (chunk) => write(chunk.toString('utf8')), follow);
    return;
  }
  const screen = new LogScreen({ scrollback: Math.min(Math.max(lines, 1000), 100_000) });
  try {
    await screen.write(bytes);
    const finished = screen.takeFinished();
    for (const line of finished.slice(Math.max(0, finished.length - lines))) write(`${line}\n`);
    await followLog(
      logFile,
      async (chunk) => {
        await screen.write(chunk);
        for (const line of screen.takeFinished()) write(`${line}\n`);
      },
      follow,
    );
  } finally {
    screen.dispose();
  }
}

/**
 * `--since`: a duration back from now (`90s`, `10m`, `2h`, `1d`) or a date and time
 * (`2026-11-30T14:00`, `2026-11-30 14:00:00Z`). Null when it is neither.
 */
export function parseSince(value: string, now = Date.now()): number | null {
  const duration = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  if (duration) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(duration[1]) * unit;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) return null;
  const at = Date.parse(value.trim().replace(' ', 'T'));
  return Number.isNaN(at) ? null : at;
}
