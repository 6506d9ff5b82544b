/**
 * `logs -f`: like `tail -F`, it keeps reading the log by name. When the pipe rotates the file
 * (renames it to `.1` and starts a new one), what was written to the old file is read to its
 * end first, then the new file from its start; a file cut short is read again from its start.
 * It polls: a log is written by a process warden does not own, possibly on a file system that
 * sends no change events.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

export interface FollowOptions {
  /** Where to start in the file being written now (its end by default). */
  offset?: number;
  signal: AbortSignal;
  /** How often the file is looked at. */
  intervalMs?: number;
}

/** Calls `onBytes` with each new piece of the log until `signal` aborts. */
export async function followLog(logFile: string, onBytes: (bytes: Buffer) => void | Promise<void>, options: FollowOptions): Promise<void> {
  const { signal, intervalMs = 200 } = options;
  let current: { handle: FileHandle; ino: number; position: number } | null = null;
  let startAt: number | null = options.offset ?? null;
  try {
    while (!signal.aborted) {
      if (!current) {
        current = await openAt(logFile, startAt);
        startAt = 0;
      }
      if (current) {
        const { size } = await current.handle.stat();
        if (size < current.position) current.position = 0;
        current.position += await drain(current.handle, current.position, onBytes);
        const named = await stat(logFile).catch(() => null);
        if (!named || named.ino !== current.ino) {
          // Rotated away (or removed): finish the old file, then take the new one from its start.
          current.position += await drain(current.handle, current.position, onBytes);
          await current.handle.close();
          current = null;
          if (named) continue;
        }
      }
      await delay(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await current?.handle.close();
  }
}

async function openAt(logFile: string, offset: number | null) {
  const handle = await open(logFile, 'r').catch(() => null);
  if (!handle) return null;
  const info = await handle.stat();
  return { handle, ino: info.ino, position: offset === null ? info.size : Math.min(offset, info.size) };
}

/** Reads from `position` to the end of the file; returns the number of bytes read. */
async function drain(handle: FileHandle, position: number, onBytes: (bytes: Buffer) => void | Promise<void>): Promise<number> {
  let read = 0;
  const chunk = Buffer.alloc(64 * 1024);
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position + read);
    if (bytesRead === 0) return read;
    await onBytes(Buffer.from(chunk.subarray(0, bytesRead)));
    read += bytesRead;
  }
}
