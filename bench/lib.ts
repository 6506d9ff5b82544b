/**
 * What the benchmark's parts share: an isolated tmux server and temp directory, timing with
 * medians, state files of N synthetic sessions cloned from one real record.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SCHEMA_VERSION, type SessionRecord, type StateDocument } from '../src/model/schema.js';
import { Tmux, type WindowRef } from '../src/tmux.js';

export const GROUP = 'warden';
export const LONG_RUNNING = ['sleep', '86400'];

export interface BenchEnv {
  socket: string;
  tmux: Tmux;
  dir: string;
  /** A new, unused state file path in the bench's temp directory. */
  stateFile(name: string): string;
  cleanup(): Promise<void>;
}

export function benchEnv(): BenchEnv {
  const socket = `warden-bench-${process.pid}`;
  const tmux = new Tmux({ socket: { name: socket }, timeoutMs: 30_000 });
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  let n = 0;
  return {
    socket,
    tmux,
    dir,
    stateFile: (name) => join(dir, `${name}-${++n}.json`),
    async cleanup() {
      await tmux.killServer().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function timed<T>(body: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await body();
  return { ms: performance.now() - start, value };
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Runs `body` `warmup` times unmeasured, then `runs` times; the median of the measured times. */
export async function medianMs(runs: number, warmup: number, body: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < warmup; i++) await body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await timed(body)).ms);
  return median(times);
}

/** Runs `tasks` with at most `width` in flight. */
export async function inParallel<T>(width: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

export function keyOf(i: number): string {
  return `s${String(i).padStart(5, '0')}`;
}

/**
 * A record for `key` cloned from a real one, pointing at `window` (or at a window that does not
 * exist when null): what a file of many sessions looks like without spawning them one by one.
 */
export function cloneRecord(template: SessionRecord, key: string, window: WindowRef | null): SessionRecord {
  const record = structuredClone(template) as SessionRecord & { snapshot: { context: Record<string, unknown> } };
  const sessionId = randomUUID();
  const context = record.snapshot.context;
  context.key = key;
  context.sessionId = sessionId;
  context.windowId = window?.windowId ?? '@999999';
  context.paneId = window?.paneId ?? '%999999';
  context.pid = window?.pid ?? null;
  const input = (record.snapshot as { input?: { key?: string } }).input;
  if (input) input.key = key;
  return record as SessionRecord;
}

export function writeStateFile(file: string, sessions: Record<string, SessionRecord>): number {
  const document: StateDocument = { schemaVersion: SCHEMA_VERSION, sessions, history: [] };
  const json = JSON.stringify(document);
  writeFileSync(file, json, { mode: 0o600 });
  return Buffer.byteLength(json);
}

/** Creates `count` tagged windows (the engine's own launch call), `width` at a time. */
export async function launchWindows(tmux: Tmux, count: number, width = 8): Promise<{ sessionId: string; ref: WindowRef }[]> {
  return inParallel(
    width,
    Array.from({ length: count }, (_, i) => async () => {
      const sessionId = randomUUID();
      const ref = await tmux.launchWindow({ group: GROUP, name: keyOf(i), sessionId, command: LONG_RUNNING });
      return { sessionId, ref };
    }),
  );
}

/** Records for windows already launched, tagged with the session ids they were launched with. */
export function recordsFor(template: SessionRecord, windows: { sessionId: string; ref: WindowRef }[]): Record<string, SessionRecord> {
  const sessions: Record<string, SessionRecord> = {};
  windows.forEach(({ sessionId, ref }, i) => {
    const record = cloneRecord(template, keyOf(i), ref) as SessionRecord & { snapshot: { context: { sessionId: string } } };
    record.snapshot.context.sessionId = sessionId;
    sessions[keyOf(i)] = record;
  });
  return sessions;
}

export function syntheticSessions(template: SessionRecord, count: number): Record<string, SessionRecord> {
  const sessions: Record<string, SessionRecord> = {};
  for (let i = 0; i < count; i++) sessions[keyOf(i)] = cloneRecord(template, keyOf(i), null);
  return sessions;
}
