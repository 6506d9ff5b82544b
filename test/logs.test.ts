/** The pieces of durable logs that need no tmux: rendering, retention, time marks, following. */
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logParts, positionSince, readLogBytes, recordMark, readMarks } from '../src/logs/files.js';
import { followLog } from '../src/logs/follow.js';
import { applyRetention, planRetention, scanLogs, type SessionLog } from '../src/logs/retention.js';
import { savedScreenBytes } from '../src/logs/saved-screen.js';
import { renderLog } from '../src/logs/screen.js';
import { defaultLogDirectory } from '../src/logs/paths.js';
import { SessionLogs } from '../src/logs/session-logs.js';
import { LogSettingsSchema, parseByteSize } from '../src/model/log-settings.js';
import { followView, parseSince, viewLog } from '../src/logs/view.js';
import { waitFor } from './support/tmux-server.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (name = 'log') => {
  const d = join(dir, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return join(d, 's.log');
};

describe('rendering: a log reads as the screen showed it', () => {
  it('a TUI that redraws in place renders to its final screen', async () => {
    const frames = [
      '\x1b[2J\x1b[HProgress: 10%\r\n',
      '\x1b[HProgress: 50%\x1b[K\r\n',
      '\x1b[HProgress: 100%\x1b[K\r\nDone.\r\n',
    ];
    expect(await renderLog(Buffer.from(frames.join('')))).toEqual(['Progress: 100%', 'Done.']);
  });

  it('carriage-return progress bars keep only their last state', async () => {
    expect(await renderLog(Buffer.from('step 1\r\n[##  ] 50%\r[####] 100%\r\nok\r\n'))).toEqual(['step 1', '[####] 100%', 'ok']);
  });

  it('a TUI still on the alternate screen shows that screen below what came before it', async () => {
    const bytes = Buffer.from('$ top\r\n\x1b[?1049h\x1b[2J\x1b[1;1Htasks: 3\x1b[3;1Hload 0.1');
    expect(await renderLog(bytes)).toEqual(['$ top', 'tasks: 3', '', 'load 0.1']);
  });

  it('a TUI that left the alternate screen leaves what the terminal showed after it', async () => {
    const bytes = Buffer.from('before\r\n\x1b[?1049hfull screen app\x1b[?1049lafter\r\n');
    expect(await renderLog(bytes)).toEqual(['before', 'after']);
  });

  it('a line longer than the screen is one line, not several', async () => {
    const long = 'x'.repeat(250);
    expect(await renderLog(Buffer.from(`${long}\r\nnext\r\n`), { columns: 100 })).toEqual([long, 'next']);
  });

  it('-n keeps the last lines', async () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => `line ${i}\r\n`).join(''));
    expect(await renderLog(bytes, { lines: 3 })).toEqual(['line 297', 'line 298', 'line 299']);
  });

  it('a saved screen the pipe already had is not shown twice', async () => {
    const bytes = Buffer.concat([Buffer.from('hello\r\nworld\r\n'), savedScreenBytes('hello\nworld\n\n\n\nPane is dead (status 7, Mon)\n')]);
    expect(await renderLog(bytes)).toEqual(['hello', 'world']);
  });

  it('a saved screen shows what the pipe missed', async () => {
    const bytes = Buffer.concat([Buffer.from('hello\r\n'), savedScreenBytes('hello\nmissed by the pipe\n')]);
    expect(await renderLog(bytes)).toEqual(['hello', 'hello', 'missed by the pipe']);
  });
});

describe('settings', () => {
  it('default to 2 files of 10 MiB, ended logs kept 30 days and 1 GiB', () => {
    expect(LogSettingsSchema.parse({})).toEqual({ enabled: true, maxFileSize: 10 * 1024 ** 2, maxFiles: 2, retainDays: 30, retainTotalSize: 1024 ** 3 });
  });
  it('read sizes with binary units', () => {
    expect(parseByteSize('10MiB')).toBe(10 * 1024 ** 2);
    expect(parseByteSize('512k')).toBe(512 * 1024);
    expect(parseByteSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize('ten')).toBeNull();
    expect(LogSettingsSchema.safeParse({ maxFileSize: 'lots' }).error?.issues[0]?.message).toMatch(/not a size: write e\.g\. 10MiB/);
  });
});

describe('retention of ended sessions’ logs', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const day = 86_400_000;
  const log = (sessionId: string, ageDays: number, bytes: number): SessionLog => ({
    key: 'k', sessionId, files: [`/logs/k/${sessionId}.log`], bytes, lastWriteMs: now - ageDays * day,
  });
  const settings = { retainDays: 30, retainTotalSize: 1000 };

  it('removes ended logs older than retainDays', () => {
    const plan = planRetention([log('old', 31, 10), log('new', 1, 10)], new Set(), settings, now);
    expect(plan.remove.map((r) => [r.log.sessionId, r.reason])).toEqual([['old', 'age']]);
  });

  it('removes the oldest ended logs until the total fits', () => {
    const plan = planRetention([log('a', 3, 600), log('b', 2, 600), log('c', 1, 300)], new Set(), settings, now);
    expect(plan.remove.map((r) => [r.log.sessionId, r.reason])).toEqual([['a', 'total-size']]);
    expect(plan.keptBytes).toBe(900);
  });

  it('never removes the log of a session the state file still has, nor one just written', () => {
    const justNow = { ...log('writing', 0, 5000), lastWriteMs: now - 1000 };
    const plan = planRetention([log('live', 400, 5000), justNow], new Set(['live']), settings, now);
    expect(plan.remove).toEqual([]);
  });

  it('0 turns a limit off', () => {
    expect(planRetention([log('a', 400, 5000)], new Set(), { retainDays: 0, retainTotalSize: 0 }, now).remove).toEqual([]);
  });

  it('the applier removes every file of a planned log and its emptied key directory', async () => {
    const logs = join(dir, 'retention-logs');
    const file = join(logs, 'api', 'sid-1.log');
    mkdirSync(join(logs, 'api'), { recursive: true });
    for (const f of [file, `${file}.1`, join(logs, 'api', 'sid-1.marks')]) writeFileSync(f, 'x');
    writeFileSync(join(logs, 'api', 'sid-2.log'), 'keep');
    const old = (Date.now() - 40 * day) / 1000;
    for (const f of [file, `${file}.1`, join(logs, 'api', 'sid-1.marks')]) utimesSync(f, old, old);
    const scanned = await scanLogs(logs);
    expect(scanned.find((l) => l.sessionId === 'sid-1')?.files).toHaveLength(3);
    const removed = await applyRetention(planRetention(scanned, new Set(), settings, Date.now()));
    expect(removed).toEqual(['sid-1']);
    expect((await scanLogs(logs)).map((l) => l.sessionId)).toEqual(['sid-2']);
  });
});

describe('--since: time marks point into rotated files', () => {
  it('starts at the last mark before the time, across a rotation', async () => {
    const file = fresh();
    const t = Date.now() + 1000;
    writeFileSync(file, 'old output\n');
    await recordMark(file, { at: t });
    appendFileSync(file, 'new output\n');
    await recordMark(file, { at: t + 1000 });
    renameSync(file, `${file}.1`);
    writeFileSync(file, 'newest\n');
    const parts = await logParts(file);
    const from = positionSince(parts, await readMarks(file), t + 500);
    expect((await readLogBytes(parts, from)).toString()).toBe('new output\nnewest\n');
    expect(await viewLog(file, { since: t + 500, raw: true })).toBe('new output\nnewest\n');
  });

  it('ignores a mark older than the file it names (a dropped file’s inode reused)', async () => {
    const file = fresh();
    writeFileSync(file, 'reused inode\n');
    const { ino } = statSync(file);
    writeFileSync(file.replace(/\.log$/, '.marks'), `1000 ${ino} 5\n`);
    expect(await viewLog(file, { since: 2000, raw: true })).toBe('reused inode\n');
  });

  it('starts at the beginning when no mark is old enough', async () => {
    const file = fresh();
    writeFileSync(file, 'a\n');
    await recordMark(file, { at: 5000 });
    expect(await viewLog(file, { since: 1000 })).toBe('a\n');
  });

  it('parses durations and dates', () => {
    expect(parseSince('10m', 1_000_000)).toBe(400_000);
    expect(parseSince('2026-11-30T12:00:00Z')).toBe(Date.parse('2026-11-30T12:00:00Z'));
    expect(parseSince('yesterday')).toBeNull();
  });
});

describe('following a log', () => {
  it('sees new bytes, then the rest of a rotated file, then the new file', async () => {
    const file = fresh();
    writeFileSync(file, 'before\n');
    const seen: string[] = [];
    const stop = new AbortController();
    const following = followLog(file, (b) => void seen.push(b.toString()), { signal: stop.signal, intervalMs: 20, offset: 7 });
    appendFileSync(file, 'one\n');
    await waitFor(() => seen.join('').includes('one\n'), 'the appended line');
    appendFileSync(file, 'two\n');
    renameSync(file, `${file}.1`);
    writeFileSync(file, 'three\n');
    await waitFor(() => seen.join('').includes('three\n'), 'the new file');
    stop.abort();
    await following;
    expect(seen.join('')).toBe('one\ntwo\nthree\n');
  });

  it('rendered, prints the last lines, then each line once it is finished', async () => {
    const file = fresh();
    writeFileSync(file, 'a\r\nb\r\nc\r\n');
    const out: string[] = [];
    const stop = new AbortController();
    const following = followView(file, (t) => void out.push(t), { lines: 2, signal: stop.signal, intervalMs: 20 });
    await waitFor(() => out.join('') === 'b\nc\n', 'the last two lines');
    appendFileSync(file, 'd\r\npartial');
    await waitFor(() => out.join('').endsWith('d\n'), 'the finished line');
    appendFileSync(file, ' line\r\n');
    await waitFor(() => out.join('').endsWith('partial line\n'), 'the line once finished');
    stop.abort();
    await following;
    expect(out.join('')).toBe('b\nc\nd\npartial line\n');
  });
});

describe('views', () => {
  it('-n with --raw gives the last lines as written', async () => {
    const file = fresh();
    writeFileSync(file, 'a\r\n\x1b[31mb\x1b[0m\r\nc');
    expect(await viewLog(file, { raw: true, lines: 2 })).toBe('\x1b[31mb\x1b[0m\r\nc');
    expect(await viewLog(file, { lines: 2 })).toBe('b\nc\n');
  });

  it('a missing log has no parts', async () => {
    expect(await logParts(join(dir, 'nowhere', 'x.log'))).toEqual([]);
    expect(statSync(dir).isDirectory()).toBe(true);
  });
});

describe('SessionLogs: the engine’s side', () => {
  it('readies a private directory per key and returns the pipe for a launch', async () => {
    const logs = new SessionLogs(join(dir, 'engine-logs'), { maxFileSize: '64KiB', maxFiles: 3 });
    const pipe = await logs.pipeFor('api', 'sid-1');
    expect(pipe?.slice(-3)).toEqual([join(dir, 'engine-logs', 'api', 'sid-1.log'), String(64 * 1024), '3']);
    expect(statSync(join(dir, 'engine-logs')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'engine-logs', 'api')).mode & 0o777).toBe(0o700);
  });

  it('saves a captured screen framed, and renders it once when the pipe had it', async () => {
    const logs = new SessionLogs(join(dir, 'engine-logs'));
    const file = logs.logFile('api', 'sid-2')!;
    mkdirSync(join(dir, 'engine-logs', 'api'), { recursive: true });
    writeFileSync(file, 'output\r\n');
    await logs.saveScreen('api', 'sid-2', 'output\n\n\n');
    await logs.saveScreen('api', 'sid-3', 'only saved\n');
    expect(statSync(logs.logFile('api', 'sid-3')!).mode & 0o777).toBe(0o600);
    expect(await viewLog(logs.logFile('api', 'sid-3')!)).toBe('only saved\n');
    expect(await viewLog(file)).toBe('output\n');
    expect(await viewLog(file, { raw: true })).toContain('warden-saved-screen');
  });

  it('is off when disabled: no log file, no pipe', async () => {
    const logs = new SessionLogs(join(dir, 'off'), { enabled: false });
    expect(logs.logFile('api', 'sid')).toBeNull();
    expect(await logs.pipeFor('api', 'sid')).toBeNull();
  });
});

describe('paths', () => {
  it('each state file has its own logs directory beside it', () => {
    expect(defaultLogDirectory('/home/me/.local/state/tmux-warden/state.json')).toBe('/home/me/.local/state/tmux-warden/logs');
    expect(defaultLogDirectory('/tmp/t/state-3.json')).toBe('/tmp/t/state-3.logs');
  });
});

describe('a long log', () => {
  it('-n renders from its tail and still gives exactly the last lines', async () => {
    const file = fresh();
    const line = (i: number) => `\x1b[32m${i}\x1b[0m ${'output '.repeat(20)}\r\n`;
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => line(i)).join(''));
    expect(statSync(file).size).toBeGreaterThan(2 * 1024 * 1024);
    const text = await viewLog(file, { lines: 3 });
    expect(text.split('\n').slice(0, 3).map((l) => l.split(' ')[0])).toEqual(['19997', '19998', '19999']);
  });
});

describe('a clear never loses output', () => {
  it('clearing the screen and the scrollback (an agent starting or resumed) keeps what came before', async () => {
    const bytes = Buffer.from('important output line\r\nexit 7\r\n\x1b[H\x1b[2J\x1b[3Jresumed screen\r\n');
    expect(await renderLog(bytes)).toEqual(['important output line', 'exit 7', 'resumed screen']);
  });

  it('a full-screen TUI clearing its alternate screen still shows only its last screen', async () => {
    const bytes = Buffer.from('shell\r\n\x1b[?1049hframe 1\x1b[2J\x1b[Hframe 2');
    expect(await renderLog(bytes)).toEqual(['shell', 'frame 2']);
  });
});
