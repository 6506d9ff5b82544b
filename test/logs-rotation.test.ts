import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logPipeArgv } from '../src/logs/pipe.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-logs-rotation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function letters(length: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => String.fromCharCode(65 + (i % 26))).join(''));
}

async function pipeThrough(input: Buffer, settings: { maxFileSize: number; maxFiles: number }, logFile = join(dir, `s${++files}.log`)) {
  const [bin, ...args] = logPipeArgv(logFile, settings);
  const result = await execa(bin!, args, { input, reject: false });
  return { result, logFile };
}

describe('the pipe appends, caps and rotates a log', () => {
  it('keeps the newest maxFiles × maxFileSize bytes, losing nothing at a rotation', async () => {
    const input = letters(25_000);
    const { result, logFile } = await pipeThrough(input, { maxFileSize: 10_000, maxFiles: 2 });
    expect(result.exitCode).toBe(0);
    expect(statSync(`${logFile}.1`).size).toBe(10_000);
    expect(statSync(logFile).size).toBe(5_000);
    const kept = Buffer.concat([readFileSync(`${logFile}.1`), readFileSync(logFile)]);
    expect(kept.equals(input.subarray(input.length - kept.length))).toBe(true);
  });

  it('shifts older files up to maxFiles and keeps every byte when they hold it all', async () => {
    const input = letters(25_000);
    const { logFile } = await pipeThrough(input, { maxFileSize: 10_000, maxFiles: 3 });
    const kept = Buffer.concat([`${logFile}.2`, `${logFile}.1`, logFile].map((f) => readFileSync(f)));
    expect(kept.equals(input)).toBe(true);
  });

  it('appends to what an earlier launch wrote, and rotates counting it', async () => {
    const logFile = join(dir, 'appended.log');
    await pipeThrough(letters(6_000), { maxFileSize: 10_000, maxFiles: 2 }, logFile);
    await pipeThrough(letters(6_000), { maxFileSize: 10_000, maxFiles: 2 }, logFile);
    expect(statSync(`${logFile}.1`).size).toBe(10_000);
    expect(statSync(logFile).size).toBe(2_000);
  });

  it('with one file, starts the log over at the cap', async () => {
    const input = letters(25_000);
    const { logFile } = await pipeThrough(input, { maxFileSize: 10_000, maxFiles: 1 });
    expect(readdirSync(dir).filter((n) => n.startsWith(logFile.split('/').pop()!))).toEqual([logFile.split('/').pop()]);
    expect(readFileSync(logFile).equals(input.subarray(20_000))).toBe(true);
  });

  it('creates files 0600 whatever the umask', async () => {
    const { logFile } = await pipeThrough(letters(100), { maxFileSize: 10_000, maxFiles: 2 });
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
  });

  it('ends when its input ends, also exactly at the cap', async () => {
    const { result, logFile } = await pipeThrough(letters(10_000), { maxFileSize: 10_000, maxFiles: 2 });
    expect(result.exitCode).toBe(0);
    expect(readFileSync(`${logFile}.1`).length + (statSync(logFile, { throwIfNoEntry: false })?.size ?? 0)).toBe(10_000);
  });
});
