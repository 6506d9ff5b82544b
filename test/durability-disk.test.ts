/**
 * Disk faults and the state file's last line of defence: a read-only or full state directory, a
 * file replaced by garbage or truncated, `warden doctor --repair`, the `.bak` always the last good
 * file, never promoting an empty document, and fsync of file and directory.
 *
 * We run as root, so chmod proves nothing: a read-only bind mount (EROFS), a size-limited tmpfs
 * (ENOSPC) and `ulimit -f` on the CLI process (EFBIG) make the kernel refuse the writes for real.
 */
import { execaSync } from 'execa';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine.js';
import type { SessionInfo } from '../src/model/schema.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer } from './support/tmux-server.js';
import { CLI, readState, stateBytes, warden, type CliResult, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('disk');
/** doctor reports tagged windows of other state files on its server, so it gets a server alone. */
const doctorServer = useTmuxServer('doctor');
const mounts: string[] = [];
afterAll(() => {
  for (const dir of mounts.reverse()) execaSync('umount', ['-l', dir], { reject: false });
});

function canMount(): boolean {
  const probe = join(server.dir, 'mount-probe');
  mkdirSync(probe, { recursive: true });
  const ok = execaSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { reject: false }).exitCode === 0;
  if (ok) execaSync('umount', [probe]);
  return ok;
}
const mountable = canMount();

/** A state directory with two live sessions, a `.bak`, and the bytes of both. */
async function populated(dir: string, socket = server.socket): Promise<{ t: CliTarget; infos: SessionInfo[]; file: string; bak: string }> {
  mkdirSync(dir, { recursive: true });
  const t = { state: join(dir, 'state.json'), socket };
  const infos: SessionInfo[] = [];
  const engine = await createEngine({ stateFile: t.state, socket });
  try {
    for (const key of [`${dir.split('/').at(-1)}-a`, `${dir.split('/').at(-1)}-b`]) {
      infos.push(await engine.spawn(key, { command: LONG_RUNNING }));
    }
  } finally {
    await engine.close();
  }
  return { t, infos, file: t.state, bak: `${t.state}.bak` };
}

function files(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** The writes a user would try while the disk misbehaves: all must fail cleanly and change nothing. */
async function writesRefused(t: CliTarget, infos: SessionInfo[], run = (args: string[]) => warden(t, args)): Promise<CliResult[]> {
  const results = [await run(['spawn', 'newcomer', '--', ...LONG_RUNNING]), await run(['end', infos[0]!.key])];
  for (const r of results) {
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(t.state);
    expect(r.stderr).toContain(`${t.state}.bak`);
  }
  // Nothing in tmux moved either: no window for the refused spawn, the refused end killed nothing.
  const probe = await server.tmux.probeAll();
  expect(probe.kind === 'ok' && probe.panes.some((p) => p.windowName === 'newcomer')).toBe(false);
  for (const info of infos) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([info.windowId]);
  return results;
}

describe.concurrent('disk faults: a clear error naming the file and its .bak, the file untouched', () => {
  it.skipIf(!mountable)('the state directory read-only (a read-only bind mount: EROFS)', async () => {
    const dir = join(server.dir, 'readonly');
    const { t, infos, file, bak } = await populated(dir);
    const before = [stateBytes(file), stateBytes(bak), files(dir)];
    execaSync('mount', ['--bind', dir, dir]);
    mounts.push(dir);
    execaSync('mount', ['-o', 'remount,bind,ro', dir]);
    try {
      const [spawn] = await writesRefused(t, infos);
      expect(spawn!.stderr).toMatch(/read-only file system/i);
      expect((await warden(t, ['ls'])).exitCode).toBe(0); // reading still works
    } finally {
      execaSync('umount', [dir]);
      mounts.pop();
    }
    expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(before);
  });

  it.skipIf(!mountable)('the state directory full (a 1 MiB tmpfs filled up: ENOSPC)', async () => {
    const dir = join(server.dir, 'full');
    mkdirSync(dir, { recursive: true });
    execaSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
    mounts.push(dir);
    try {
      const { t, infos, file, bak } = await populated(dir);
      const filler = join(dir, 'filler');
      execaSync('sh', ['-c', `cat /dev/zero > ${filler}`], { reject: false }); // until ENOSPC
      const before = [stateBytes(file), stateBytes(bak), files(dir)];
      const [spawn] = await writesRefused(t, infos);
      expect(spawn!.stderr).toMatch(/no space left on device/i);
      expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(before); // no temp file left behind
      truncateSync(filler, 0);
      const after = await warden(t, ['spawn', 'full-newcomer', '--', ...LONG_RUNNING]);
      expect(after, after.stderr).toMatchObject({ exitCode: 0 });
      expect(Object.keys(readState(file).sessions)).toHaveLength(3);
    } finally {
      execaSync('umount', ['-l', dir]);
      mounts.pop();
    }
  });

  it('a file size limit hit mid-write (ulimit -f): the writer dies, the file and .bak are untouched, the temp is swept later', async () => {
    // Node keeps SIGXFSZ at its default, so the kernel kills the CLI in the middle of writing its
    // temp file: a crash at the worst moment, made by the kernel rather than by us.
    const dir = join(server.dir, 'fsize');
    const { t, infos, file, bak } = await populated(dir);
    const before = [stateBytes(file), stateBytes(bak)];
    const limitBlocks = Math.floor(statSync(file).size / 512) - 1; // the next, larger file cannot be written
    const r = execaSync(
      'sh',
      ['-c', `ulimit -f ${limitBlocks}; exec "$0" "$@"`, process.execPath, CLI, '--socket', t.socket, '--state', t.state, 'spawn', 'fsize-newcomer', '--', ...LONG_RUNNING],
      { reject: false, encoding: 'utf8' },
    );
    expect(r.signal).toBe('SIGXFSZ');
    expect([stateBytes(file), stateBytes(bak)]).toEqual(before);
    expect(files(dir).filter((f) => f.endsWith('.tmp'))).toHaveLength(1); // the half-written temp
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.some((p) => p.windowName === 'fsize-newcomer')).toBe(false);
    for (const info of infos) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([info.windowId]);

    const next = await warden(t, ['spawn', 'fsize-newcomer', '--', ...LONG_RUNNING]);
    expect(next, next.stderr).toMatchObject({ exitCode: 0 });
    expect(files(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  const corruptions: [string, (file: string) => void][] = [
    ['replaced by garbage', (file) => writeFileSync(file, 'garbage \u0000\u0001 not json')],
    ['truncated half-way', (file) => truncateSync(file, Math.floor(statSync(file).size / 2))],
    ['truncated to nothing', (file) => truncateSync(file, 0)],
    ['valid JSON of the wrong shape', (file) => writeFileSync(file, '{"schemaVersion":1,"sessions":[]}')],
  ];
  for (const [what, corrupt] of corruptions) {
    it(`the state file ${what}: every verb refuses, naming the file and 'warden doctor --repair'`, async () => {
      const dir = join(server.dir, `corrupt-${what.replace(/\W+/g, '-')}`);
      const { t, infos, file, bak } = await populated(dir);
      corrupt(file);
      const before = [stateBytes(file), stateBytes(bak), files(dir)];
      for (const args of [['ls'], ['status', infos[0]!.key], ['spawn', 'newcomer', '--', 'true'], ['end', infos[0]!.key]]) {
        const r = await warden(t, args);
        expect(r.exitCode, args.join(' ')).toBe(1);
        expect(r.stderr).toContain(`state file ${file} `);
        expect(r.stderr).toContain(`restore ${bak} with 'warden doctor --repair'`);
      }
      expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(before);
      for (const info of infos) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([info.windowId]);
    });
  }
});

/** Starts the doctor's server afresh, so only the test's own windows are on it. */
async function killStrays(): Promise<void> {
  const probe = await doctorServer.tmux.probeAll();
  if (probe.kind !== 'ok') return;
  const mine = new Set(probe.panes.filter((p) => p.windowName.startsWith('doctor-healthy')).map((p) => p.windowId));
  for (const pane of probe.panes) if (!mine.has(pane.windowId)) await doctorServer.tmux.run(['kill-window', '-t', pane.windowId]).catch(() => undefined);
}

describe('warden doctor', () => {
  it('reports a healthy installation and exits 0; --json carries the same report', async () => {
    const { t } = await populated(join(server.dir, 'doctor-healthy'), doctorServer.socket);
    await killStrays();
    const text = await warden(t, ['doctor']);
    expect(text, text.stderr).toMatchObject({ exitCode: 0 });
    expect(text.stdout).toMatch(/^tmux {8}tmux \d+\.\d+/m);
    expect(text.stdout).toMatch(/^state file .*state\.json: valid, 2 session\(s\)$/m);
    expect(text.stdout).toMatch(/^lock {8}free$/m);
    expect(text.stdout).toMatch(/^healthy$/m);
    const json = await warden(t, ['--json', 'doctor']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      healthy: true,
      tmux: { found: true, supported: true },
      stateFile: { status: 'valid', sessions: 2 },
      backup: { status: 'valid' },
      lock: { held: false },
      problems: [],
      repaired: null,
    });
  });

  it('finds orphans, tagged windows without a record, stale locks and unloadable records (exit 1), changing nothing', async () => {
    const dir = join(server.dir, 'doctor-problems');
    await doctorServer.tmux.killServer(); // only this file's windows on the server
    const { t, infos, file } = await populated(dir, doctorServer.socket);
    await doctorServer.tmux.run(['kill-window', '-t', infos[0]!.windowId!]);
    const stray = (await doctorServer.tmux.run(['new-window', '-d', '-P', '-F', '#{window_id}', '-t', '=warden:', 'sleep', '600'])).trim();
    await doctorServer.tmux.run(['set-option', '-w', '-t', stray, '@warden_id', 'not-in-any-record']);
    const document = JSON.parse(readFileSync(file, 'utf8'));
    document.sessions[infos[1]!.key].machineVersion = '999';
    writeFileSync(file, JSON.stringify(document));
    mkdirSync(`${file}.lock`); // left by a process killed a minute ago
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, minuteAgo, minuteAgo);
    const before = stateBytes(file);

    const r = await warden(t, ['--json', 'doctor']);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.healthy).toBe(false);
    expect(report.orphaned).toEqual([infos[0]!.key]);
    expect(report.untrackedWindows).toEqual([expect.objectContaining({ windowId: stray, tag: 'not-in-any-record' })]);
    expect(report.snapshotProblems).toEqual([{ key: infos[1]!.key, message: expect.stringContaining('999') }]);
    expect(report.lock).toMatchObject({ held: true, stale: true });
    expect(report.problems).toHaveLength(3);
    expect(stateBytes(file)).toBe(before);
    expect(await ownedWindows(doctorServer.tmux, 'not-in-any-record')).toEqual([stray]);
    await doctorServer.tmux.killServer();
  });

  it('--repair restores the last good .bak over a corrupt file, says so, and keeps the bad file', async () => {
    const dir = join(server.dir, 'doctor-repair');
    const { t, infos, file, bak } = await populated(dir);
    const good = stateBytes(bak)!;
    appendFileSync(file, '}}garbage');
    const bad = stateBytes(file);
    const plain = await warden(t, ['doctor']);
    expect(plain.exitCode).toBe(1);
    expect(plain.stdout).toMatch(/state file .*: INVALID/);
    expect(stateBytes(file)).toBe(bad); // not without being asked

    const repaired = await warden(t, ['doctor', '--repair']);
    expect(repaired.stdout).toMatch(new RegExp(`^repaired {4}restored ${bak} \\(\\d session\\(s\\)\\); the bad file was kept as ${file}\\.invalid-`, 'm'));
    expect(stateBytes(file)).toBe(good);
    const kept = files(dir).find((f) => f.startsWith('state.json.invalid-'))!;
    expect(readFileSync(join(dir, kept), 'utf8')).toBe(bad);
    const ls = await warden(t, ['--json', 'ls']);
    expect(ls, ls.stderr).toMatchObject({ exitCode: 0 });
    // The .bak is the file before the last write: the first session, and the second one spawning
    // or active depending on which write was last; either way nothing is lost that tmux still has.
    const keys = (JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions.map((s) => s.key);
    expect(keys).toContain(infos[0]!.key);
  });

  it('--repair restores a missing state file from its .bak', async () => {
    const dir = join(server.dir, 'doctor-missing');
    const { t, file, bak } = await populated(dir);
    execaSync('rm', [file]);
    const plain = await warden(t, ['--json', 'doctor']);
    expect(plain.exitCode).toBe(1);
    expect(JSON.parse(plain.stdout).problems[0]).toMatch(/is missing but .*\.bak holds \d session/);
    const r = await warden(t, ['--json', 'doctor', '--repair']);
    expect(JSON.parse(r.stdout).repaired).toMatchObject({ restoredFrom: bak, keptAs: null });
    expect(stateBytes(file)).toBe(stateBytes(bak));
  });

  it('a deleted state file is never "no sessions": every verb says so (exit 1), the .bak is kept, --repair brings every session back', async () => {
    const dir = join(server.dir, 'deleted');
    const { t, infos, file, bak } = await populated(dir);
    execaSync('rm', [file]);
    const kept = stateBytes(bak);
    for (const args of [['ls'], ['spawn', infos[0]!.key, '--', ...LONG_RUNNING], ['spawn', 'deleted-new', '--', ...LONG_RUNNING], ['end', infos[1]!.key]]) {
      const r = await warden(t, args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toBe(`warden: state file ${file} is missing but ${bak} holds 2 session(s): 'warden doctor --repair' restores it (or remove ${bak} to start with no sessions)`);
    }
    // logs/ holds the logs of the sessions spawned before the file was deleted; the refused spawn wrote none.
    expect(files(dir)).toEqual(['logs', 'state.json.bak', 'state.json.valid']);
    expect(files(join(dir, 'logs')).includes('deleted-new')).toBe(false);
    expect(stateBytes(bak)).toEqual(kept);
    // No second window beside the old tagged one, and the old ones are untouched.
    for (const info of infos) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([info.windowId]);
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.filter((p) => p.windowName === infos[0]!.key)).toHaveLength(1);

    const doctor = JSON.parse((await warden(t, ['--json', 'doctor'])).stdout) as { problems: string[] };
    expect(doctor.problems[0]).toMatch(/holds 2 session\(s\), and tmux holds \d+ window\(s\) tagged by warden that no record names: 'warden doctor --repair' restores it/);
    expect(JSON.parse((await warden(t, ['--json', 'doctor', '--repair'])).stdout).repaired).toMatchObject({ restoredFrom: bak, sessions: 2 });
    const ls = await warden(t, ['--json', 'ls']);
    expect(ls.exitCode, ls.stderr).toBe(0);
    // The .bak is the file before the last write: every session is back with its id.
    expect((JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions.map((s) => [s.key, s.sessionId])).toEqual(
      infos.map((i) => [i.key, i.sessionId]),
    );
  });

  it('the first write keeps a .bak already, so a state file deleted after one spawn is noticed too', async () => {
    const dir = join(server.dir, 'deleted-first');
    mkdirSync(dir);
    const t = { state: join(dir, 'state.json'), socket: server.socket };
    expect((await warden(t, ['spawn', 'deleted-first-a', '--', ...LONG_RUNNING])).exitCode).toBe(0);
    expect(readState(`${t.state}.bak`).sessions).toHaveProperty('deleted-first-a');
    execaSync('rm', [t.state]);
    const r = await warden(t, ['ls']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('doctor --repair');
    expect(JSON.parse((await warden(t, ['--json', 'doctor', '--repair'])).stdout).repaired).toMatchObject({ sessions: 1 });
    const ended = await warden(t, ['end', 'deleted-first-a']);
    expect(ended.exitCode, ended.stderr).toBe(0);
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.filter((p) => p.windowName === 'deleted-first-a')).toEqual([]);
  });

  it('--repair refuses when the .bak is invalid too, or when the file is valid, and changes nothing', async () => {
    const dir = join(server.dir, 'doctor-refuse');
    const { t, file, bak } = await populated(dir);
    const valid = [stateBytes(file), stateBytes(bak), files(dir)];
    const nothing = await warden(t, ['doctor', '--repair']);
    expect(nothing.exitCode).toBe(1);
    expect(nothing.stderr).toBe(`warden: state file ${file} is valid: nothing to repair (restoring ${bak} would drop its newer changes)`);
    expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(valid);

    writeFileSync(file, 'broken');
    writeFileSync(bak, '{"also": "broken"}');
    const before = [stateBytes(file), stateBytes(bak), files(dir)];
    const r = await warden(t, ['doctor', '--repair']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^warden: cannot repair ${file}: its backup ${bak} is not a valid state file either .*nothing was changed$`));
    expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(before);
  });

  it('--repair never rolls back a file written by a newer tmux-warden', async () => {
    const dir = join(server.dir, 'doctor-newer');
    const { t, file, bak } = await populated(dir);
    const document = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...document, schemaVersion: 99 }));
    const before = [stateBytes(file), stateBytes(bak), files(dir)];
    const r = await warden(t, ['doctor', '--repair']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/written by a newer tmux-warden .*upgrade tmux-warden; it is not broken, so it is not repaired: nothing was changed$/);
    expect([stateBytes(file), stateBytes(bak), files(dir)]).toEqual(before);
  });
});

describe('never promote empty; the .bak is always the last good file', () => {
  it('an engine that opened an empty file cannot wipe sessions CLI calls added meanwhile', async () => {
    const dir = join(server.dir, 'stale-empty');
    mkdirSync(dir, { recursive: true });
    const stateFile = join(dir, 'state.json');
    const daemon = await createEngine({ stateFile, socket: server.socket });
    const t = { state: stateFile, socket: server.socket };
    for (const key of ['kept-1', 'kept-2']) expect((await warden(t, ['spawn', key, '--', ...LONG_RUNNING])).exitCode).toBe(0);
    await daemon.spawn('own', { command: LONG_RUNNING });
    await daemon.end('own'); // its own last session gone: the file must still hold the others
    await daemon.close();
    expect(Object.keys(readState(stateFile).sessions).sort()).toEqual(['kept-1', 'kept-2']);
  });

  it('after a write the .bak holds exactly the file before it; an invalid file never becomes the .bak', async () => {
    const dir = join(server.dir, 'bak-chain');
    mkdirSync(dir, { recursive: true });
    const t = { state: join(dir, 'state.json'), socket: server.socket };
    const infos: SessionInfo[] = [];
    for (const key of ['one', 'two']) infos.push(JSON.parse((await warden(t, ['--json', 'spawn', key, '--', ...LONG_RUNNING])).stdout));
    for (const info of infos) {
      // One transition (active -> orphaned) = one write: the .bak must be the file as it was.
      await server.tmux.run(['kill-window', '-t', info.windowId!]);
      const before = stateBytes(t.state);
      expect((await warden(t, ['ls'])).exitCode).toBe(0);
      expect(stateBytes(t.state)).not.toBe(before);
      expect(stateBytes(`${t.state}.bak`)).toBe(before);
    }
    const goodBak = stateBytes(`${t.state}.bak`);
    writeFileSync(t.state, '{"schemaVersion":1,"sessions":{}, "history": "not a list"}');
    expect((await warden(t, ['spawn', 'three', '--', ...LONG_RUNNING])).exitCode).toBe(1);
    expect(stateBytes(`${t.state}.bak`)).toBe(goodBak);
  });
});

const strace = execaSync('sh', ['-c', 'command -v strace'], { reject: false }).exitCode === 0;

describe('fsync on file and directory', () => {
  it.skipIf(!strace)('a CLI write fsyncs the new file before the rename and the directory after it (seen with strace)', async () => {
    const dir = join(server.dir, 'fsync');
    mkdirSync(dir, { recursive: true });
    const t = { state: join(dir, 'state.json'), socket: server.socket };
    expect((await warden(t, ['spawn', 'first', '--', ...LONG_RUNNING])).exitCode).toBe(0);
    const traced = execaSync(
      'strace',
      ['-f', '-qq', '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2', process.execPath, CLI, '--socket', t.socket, '--state', t.state, 'end', 'first'],
      { reject: false, encoding: 'utf8' },
    );
    expect(traced.exitCode, traced.stderr.slice(-2000)).toBe(0);
    const fdPath = new Map<string, string>();
    const events: string[] = [];
    for (const line of traced.stderr.split('\n')) {
      const opened = /openat\(AT_FDCWD, "([^"]+)".*\) = (\d+)$/.exec(line);
      if (opened) fdPath.set(opened[2]!, opened[1]!);
      const synced = /f(?:data)?sync\((\d+)\) += 0/.exec(line);
      if (synced) events.push(`fsync ${fdPath.get(synced[1]!) ?? '?'}`);
      const renamed = /rename(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)"/.exec(line);
      if (renamed && renamed[2] === t.state) events.push(`rename ${renamed[1]} -> state`);
    }
    const renames = events.map((e, i) => [e, i] as const).filter(([e]) => e.startsWith('rename'));
    expect(renames.length).toBe(2); // ending, then the record removed
    for (const [event, at] of renames) {
      const temp = event.split(' ')[1]!;
      expect(events.slice(0, at), 'the temp file is fsynced before it replaces the state file').toContain(`fsync ${temp}`);
      expect(events.slice(at), 'the directory is fsynced after the rename').toContain(`fsync ${dir}`);
    }
  });
});
