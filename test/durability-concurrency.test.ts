/**
 * Many processes, one file: real `warden` CLI processes racing on one state file and one tmux
 * server, a long-running engine beside them, and a lock left behind by a killed process.
 */
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRunning } from '../machines/paths.js';
import { SESSION_MACHINE_VERSION } from '../machines/session.js';
import type { SessionInfo, StateDocument } from '../src/model/schema.js';
import { StateStore, type RecordContent } from '../src/store.js';
import { persistedIn, spec } from './support/snapshots.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';
import { processStopped, readState, startWarden, warden, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('concurrency');
const PARALLEL = 8;
const snapshot = await persistedIn('active.running', 'a', spec(LONG_RUNNING), '00000000-0000-4000-8000-000000000001');
const content = (key: string): RecordContent => ({
  machineVersion: SESSION_MACHINE_VERSION,
  snapshot: { ...snapshot, context: { ...snapshot.context, key } },
  owner: null,
});

function target(): CliTarget {
  return { state: server.stateFile(), socket: server.socket };
}

async function taggedWindowCount(): Promise<Map<string, number>> {
  const probe = await server.tmux.probeAll();
  const count = new Map<string, number>();
  if (probe.kind !== 'ok') return count;
  for (const id of new Set(probe.panes.filter((p) => p.tag).map((p) => `${p.tag} ${p.windowId}`))) {
    const tag = id.split(' ')[0]!;
    count.set(tag, (count.get(tag) ?? 0) + 1);
  }
  return count;
}

describe(`many processes, one file: ${PARALLEL} CLI processes at once`, () => {
  it('on distinct keys: every spawn and every end succeeds, no record or history entry is lost', async () => {
    const t = target();
    const keys = Array.from({ length: PARALLEL }, (_, i) => `distinct-${i}`);
    const spawned = await Promise.all(keys.map((key) => warden(t, ['--json', 'spawn', key, '--', ...LONG_RUNNING])));
    for (const r of spawned) expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const infos = spawned.map((r) => JSON.parse(r.stdout) as SessionInfo);

    const document = readState(t.state);
    expect(Object.keys(document.sessions).sort()).toEqual([...keys].sort());
    const windows = await taggedWindowCount();
    for (const info of infos) {
      expect(document.sessions[info.key]!.snapshot.context.sessionId).toBe(info.sessionId);
      expect(isRunning(document.sessions[info.key]!.snapshot.value)).toBe(true);
      expect(windows.get(info.sessionId!)).toBe(1);
    }

    const ended = await Promise.all(keys.map((key) => warden(t, ['end', key])));
    for (const r of ended) expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const after = readState(t.state);
    expect(Object.keys(after.sessions)).toEqual([]);
    expect(after.history.filter((h) => h.reason === 'ended').map((h) => h.sessionId).sort()).toEqual(
      infos.map((i) => i.sessionId).sort(),
    );
    for (const info of infos) expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([]);
  });

  it('on one key: one spawn wins, the others exit 3 with one clear line, and only one window exists', async () => {
    const t = target();
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, () => warden(t, ['--json', 'spawn', 'contended', '--', ...LONG_RUNNING])),
    );
    const winners = results.filter((r) => r.exitCode === 0);
    const losers = results.filter((r) => r.exitCode !== 0);
    expect(winners, JSON.stringify({ results, file: readState(t.state) }, null, 1)).toHaveLength(1);
    expect(losers).toHaveLength(PARALLEL - 1);
    for (const r of losers) {
      expect(r.exitCode, r.stderr).toBe(3);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      // Under --json the error is JSON too.
      const { error } = JSON.parse(r.stderr) as { error: { code: string; message: string } };
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toMatch(/^contended (is (active|spawning)|was changed by another process).*: .+/);
    }
    const winner = JSON.parse(winners[0]!.stdout) as SessionInfo;
    const document = readState(t.state);
    expect(document.sessions.contended!.snapshot.context.sessionId).toBe(winner.sessionId);
    expect(document.history).toEqual([]); // a loser never got as far as a spawn to fail
    const windows = await taggedWindowCount();
    expect(windows.get(winner.sessionId!)).toBe(1);
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.filter((p) => p.windowName === 'contended')).toHaveLength(1);
  });

  it('on one key with --mode fresh: each restart that wins replaces the one before it, exactly once', async () => {
    const t = target();
    const first = JSON.parse((await warden(t, ['--json', 'spawn', 'restarted', '--', ...LONG_RUNNING])).stdout) as SessionInfo;
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, () => warden(t, ['--json', 'spawn', 'restarted', '--mode', 'fresh'])),
    );
    // Racing restarts conflict; a restart that starts after another finished is a restart of its own.
    const winners = results.filter((r) => r.exitCode === 0).map((r) => JSON.parse(r.stdout) as SessionInfo);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((x) => x.exitCode !== 0)) expect(r.exitCode, r.stderr).toBe(3);
    const document = readState(t.state);
    const current = document.sessions.restarted!.snapshot.context.sessionId!;
    const winnerIds = winners.map((w) => w.sessionId!);
    expect(winnerIds).toContain(current);
    const replaced = document.history.filter((h) => h.key === 'restarted').map((h) => h.reason === 'replaced' && h.sessionId);
    expect(replaced.sort()).toEqual([first.sessionId!, ...winnerIds.filter((id) => id !== current)].sort());
    for (const id of [first.sessionId!, ...winnerIds]) {
      expect(await ownedWindows(server.tmux, id)).toHaveLength(id === current ? 1 : 0);
    }
  });

  it('on one key with end: exactly one end succeeds, the others exit 3 or 4', async () => {
    const t = target();
    const info = JSON.parse((await warden(t, ['--json', 'spawn', 'ended-once', '--', ...LONG_RUNNING])).stdout) as SessionInfo;
    const results = await Promise.all(Array.from({ length: PARALLEL }, () => warden(t, ['end', 'ended-once'])));
    expect(results.filter((r) => r.exitCode === 0)).toHaveLength(1);
    for (const r of results.filter((x) => x.exitCode !== 0)) {
      expect([3, 4], r.stderr).toContain(r.exitCode);
      expect(r.stderr).toMatch(/^warden: .*ended-once/);
    }
    const document = readState(t.state);
    expect(document.sessions['ended-once']).toBeUndefined();
    expect(document.history.filter((h) => h.sessionId === info.sessionId).map((h) => h.reason)).toEqual(['ended']);
    expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([]);
  });
});

describe('a long-running engine beside CLI calls: it sees their changes before it acts', () => {
  it('refuses to spawn over a key a CLI call created, and reports the CLI session', async () => {
    const daemon = await server.engine();
    const t = { state: daemon.stateFile, socket: server.socket };
    const cli = JSON.parse((await warden(t, ['--json', 'spawn', 'made-by-cli', '--', ...LONG_RUNNING])).stdout) as SessionInfo;
    const err = await daemon.spawn('made-by-cli', { command: LONG_RUNNING }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFLICT' });
    await daemon.reconcile();
    expect(daemon.get('made-by-cli')?.sessionId).toBe(cli.sessionId);
    expect(await ownedWindows(server.tmux, cli.sessionId!)).toHaveLength(1);
  });

  it('ends the session a CLI call restarted (its new id), never the stale one it knew', async () => {
    const daemon = await server.engine();
    const t = { state: daemon.stateFile, socket: server.socket };
    const old = await daemon.spawn('restarted-by-cli', { command: LONG_RUNNING });
    const fresh = JSON.parse((await warden(t, ['--json', 'spawn', 'restarted-by-cli', '--mode', 'fresh'])).stdout) as SessionInfo;
    const ended = await daemon.end('restarted-by-cli');
    expect(ended.sessionId).toBe(fresh.sessionId);
    const reasons = readState(t.state).history.map((h) => [h.sessionId, h.reason]);
    expect(reasons).toEqual([
      [old.sessionId, 'replaced'],
      [fresh.sessionId, 'ended'],
    ]);
    expect(await ownedWindows(server.tmux, fresh.sessionId!)).toEqual([]);
  });

  it('while watching, never writes over what CLI calls do meanwhile (spawn, fresh, end, orphaning)', async () => {
    const daemon = await server.engine();
    const t = { state: daemon.stateFile, socket: server.socket };
    const keep = await daemon.spawn('kept', { command: LONG_RUNNING });
    const victim = await daemon.spawn('window-killed', { command: LONG_RUNNING });
    const doomed = await daemon.spawn('ended-by-cli', { command: LONG_RUNNING });
    const watching = new AbortController();
    const watch = daemon.watch({ intervalMs: 5, signal: watching.signal });
    try {
      // The window dies behind everyone's back while a CLI call restarts it and others run.
      await server.tmux.run(['kill-window', '-t', victim.windowId!]);
      const [restarted, ended, ...spawned] = await Promise.all([
        warden(t, ['--json', 'spawn', 'window-killed', '--mode', 'fresh']),
        warden(t, ['end', 'ended-by-cli']),
        ...Array.from({ length: PARALLEL - 2 }, (_, i) => warden(t, ['--json', 'spawn', `cli-${i}`, '--', ...LONG_RUNNING])),
      ]);
      for (const r of [restarted!, ended!, ...spawned]) expect(r, r.stderr).toMatchObject({ exitCode: 0 });
      const fresh = JSON.parse(restarted!.stdout) as SessionInfo;
      // Let the watcher go round with all of it in the file.
      const file = () => readState(t.state);
      await waitFor(async () => {
        await daemon.settle();
        return daemon.get('window-killed')?.sessionId === fresh.sessionId && !daemon.get('ended-by-cli') && daemon.get('cli-0');
      }, 'the watcher to catch up with the CLI calls');
      for (let round = 0; round < 5; round++) await daemon.reconcile();

      const document = file();
      expect(Object.keys(document.sessions).sort()).toEqual(
        ['kept', 'window-killed', ...Array.from({ length: PARALLEL - 2 }, (_, i) => `cli-${i}`)].sort(),
      );
      expect(document.sessions['window-killed']!.snapshot.context.sessionId).toBe(fresh.sessionId);
      expect(isRunning(document.sessions['window-killed']!.snapshot.value)).toBe(true);
      expect(document.sessions.kept!.snapshot.context.sessionId).toBe(keep.sessionId);
      for (const [key, record] of Object.entries(document.sessions)) {
        expect(isRunning(record.snapshot.value), key).toBe(true);
        expect(await ownedWindows(server.tmux, record.snapshot.context.sessionId!), key).toHaveLength(1);
        expect(daemon.get(key)?.sessionId).toBe(record.snapshot.context.sessionId);
      }
      expect(await ownedWindows(server.tmux, doomed.sessionId!)).toEqual([]);
      expect(daemon.list().map((s) => s.key)).toEqual(Object.keys(document.sessions).sort());
    } finally {
      watching.abort();
      await watch;
    }
  });
});

describe('a stale lock left by a killed process is recovered; a live one is waited for', () => {
  it('a commit whose lock another process removed (two takeovers of one stale lock) retries and lands once', async () => {
    const file = server.stateFile();
    const store = new StateStore(file);
    const first = (await store.commit([{ key: 'a', expect: null, record: content('a') }])).applied.get('a')!;
    // Between taking the lock and replacing the file, the lock disappears once, as when it is
    // removed by hand or lost in a race of two take-overs.
    const adapter = (store as unknown as { adapter: { write: (doc: StateDocument) => Promise<void> } }).adapter;
    const write = adapter.write.bind(adapter);
    let removed = 0;
    adapter.write = async (doc) => {
      if (removed++ === 0) rmSync(`${file}.lock`, { recursive: true });
      return write(doc);
    };
    const result = await store.commit([
      { key: 'a', expect: { rev: first.rev, updatedAt: first.updatedAt }, record: content('a') },
      { key: 'b', expect: null, record: content('b') },
    ]);
    expect(removed).toBe(2);
    expect([...result.applied.keys()].sort()).toEqual(['a', 'b']);
    expect(readState(file).sessions.a!.rev).toBe(2);
    expect(readdirSync(dirname(file)).filter((f) => f.includes(basename(file)) && f.endsWith('.tmp'))).toEqual([]);
  });

  /** A process that takes the state file's lock the way the store does, then idles. */
  function lockHolder(file: string, holdMs: number) {
    const lock = fileURLToPath(new URL('../dist/src/store/lock.js', import.meta.url));
    const paths = fileURLToPath(new URL('../dist/src/store/paths.js', import.meta.url));
    const script = `
      const { StateFileLock } = await import(${JSON.stringify(lock)});
      const { stateFilePaths } = await import(${JSON.stringify(paths)});
      const held = await new StateFileLock(stateFilePaths(${JSON.stringify(file)})).acquire();
      console.log('locked');
      setTimeout(() => held.release().then(() => console.log('released ' + Date.now())), ${holdMs});`;
    return execa(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), reject: false, buffer: true, lines: false });
  }

  it('a CLI spawn takes over the lock of a SIGKILLed holder and succeeds', async () => {
    const t = target();
    const holder = lockHolder(t.state, 600_000);
    await waitFor(() => existsSync(`${t.state}.lock`), 'the holder to take the lock');
    holder.kill('SIGKILL');
    await holder;
    expect(existsSync(`${t.state}.lock`)).toBe(true); // left behind

    const r = await warden(t, ['--json', 'spawn', 'after-kill', '--', ...LONG_RUNNING]);
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    expect(readState(t.state).sessions['after-kill']).toBeDefined();
    expect(existsSync(`${t.state}.lock`)).toBe(false);
  });

  it('doctor says who holds the lock and for how long, from the monotonic clock, whatever the lock\'s mtime says', async () => {
    const t = target();
    const holder = lockHolder(t.state, 600_000);
    try {
      const owner = await waitFor(() => {
        try {
          return JSON.parse(readFileSync(`${t.state}.lock/owner.json`, 'utf8')) as { pid: number; takenAtMs: number };
        } catch {
          return undefined;
        }
      }, 'the holder to take the lock');
      const future = new Date(Date.now() + 3_600_000); // the clock was stepped back since
      utimesSync(`${t.state}.lock`, future, future);
      const heldAtLeast = Number(process.hrtime.bigint() / 1_000_000n) - owner.takenAtMs;
      const report = JSON.parse((await warden(t, ['--json', 'doctor'])).stdout) as { lock: { held: boolean; stale: boolean; ageMs: number; holderPid: number } };
      expect(report.lock).toMatchObject({ held: true, stale: false, holderPid: holder.pid });
      expect(heldAtLeast).toBeGreaterThan(0);
      expect(report.lock.ageMs).toBeGreaterThanOrEqual(heldAtLeast);
      expect((await warden(t, ['doctor'])).stdout).toMatch(new RegExp(`lock +held by process ${holder.pid} for \\d+ ms\n`));
    } finally {
      holder.kill('SIGKILL');
      await holder;
    }
  });

  it('a CLI spawn waits for a live holder, never stealing its lock', async () => {
    const t = target();
    const holder = lockHolder(t.state, 3500); // longer than the 2 s stale age locks once had
    await waitFor(() => existsSync(`${t.state}.lock`), 'the holder to take the lock');
    let finishedAt = 0;
    const r = await warden(t, ['--json', 'spawn', 'waited', '--', ...LONG_RUNNING]).then((result) => {
      finishedAt = Date.now();
      return result;
    });
    const held = await holder;
    const releasedAt = Number(/released (\d+)/.exec(held.stdout)?.[1]);
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    expect(readState(t.state).sessions.waited).toBeDefined();
    // A spawn cannot finish without writing: it finished after the holder let go, so it waited.
    expect(finishedAt).toBeGreaterThanOrEqual(releasedAt);
  });
});


/** Stops at the point its state file is about to be replaced (its lock re-checked), as a Ctrl-Z would. */
const PAUSE_BEFORE_REPLACE = { WARDEN_TEST_PAUSE: 'before-replace' };

describe('a writer paused between its lock check and its rename (invariant 11)', () => {
  it('a paused CLI spawn keeps its lock: another spawn never lands work the paused one then overwrites', async () => {
    const t = target();
    const paused = startWarden(t, ['spawn', 'paused-a', '--', ...LONG_RUNNING], { env: PAUSE_BEFORE_REPLACE });
    await waitFor(() => processStopped(paused.pid!), 'the spawn to stop itself before its rename');

    const other = await warden(t, ['--json', 'spawn', 'paused-b', '--', ...LONG_RUNNING]);
    // Either it waited and gave up naming the paused holder, or it landed and must stay landed.
    if (other.exitCode === 0) {
      process.kill(paused.pid!, 'SIGCONT');
      await paused;
      expect(Object.keys(readState(t.state).sessions), 'a spawn that exited 0 lost its record').toContain('paused-b');
    }
    expect(other.exitCode, other.stderr).toBe(1);
    expect(other.stderr).toContain(`locked by process ${paused.pid}, which is still running`);
    expect(other.stderr).toContain(`kill -CONT ${paused.pid}`);

    process.kill(paused.pid!, 'SIGCONT');
    const done = await paused;
    expect(done.exitCode, done.stderr).toBe(0);
    const document = readState(t.state);
    expect(Object.keys(document.sessions)).toEqual(['paused-a']);
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.filter((p) => p.windowName === 'paused-b')).toEqual([]);
    expect((await warden(t, ['end', 'paused-a'])).exitCode).toBe(0);
  }, 60_000);

  it('a paused watch keeps its lock: an end never completes only to come back orphaned without its history', async () => {
    const t = target();
    for (const key of ['watched-x', 'watched-y']) expect((await warden(t, ['spawn', key, '--', ...LONG_RUNNING])).exitCode).toBe(0);
    const before = readState(t.state);
    const watch = startWarden(t, ['watch'], { env: PAUSE_BEFORE_REPLACE });
    try {
      await waitFor(() => readFileSync(`/proc/${watch.pid}/stat`, 'utf8').length > 0, 'the watch to start');
      // The watch notices this and writes `orphaned`: it stops before replacing the file.
      await server.tmux.run(['kill-window', '-t', before.sessions['watched-x']!.snapshot.context.windowId!]);
      await waitFor(() => processStopped(watch.pid!), 'the watch to stop itself before its rename');

      const ended = await warden(t, ['end', 'watched-y']);
      if (ended.exitCode === 0) {
        process.kill(watch.pid!, 'SIGCONT');
        await waitFor(() => readState(t.state).sessions['watched-x']?.snapshot.value === 'orphaned', 'the watch to write');
        const after = readState(t.state);
        expect(after.sessions['watched-y'], 'an end that exited 0 came back').toBeUndefined();
        expect(after.history.map((h) => h.key)).toContain('watched-y');
      }
      expect(ended.exitCode, ended.stderr).toBe(1);
      expect(ended.stderr).toContain(`locked by process ${watch.pid}`);

      process.kill(watch.pid!, 'SIGCONT');
      await waitFor(() => readState(t.state).sessions['watched-x']?.snapshot.value === 'orphaned', 'the watch to write');
      expect((await warden(t, ['end', 'watched-y'])).exitCode).toBe(0);
      const after = readState(t.state);
      expect(after.sessions['watched-y']).toBeUndefined();
      expect(after.history.map((h) => h.key)).toContain('watched-y');
    } finally {
      process.kill(watch.pid!, 'SIGCONT');
      watch.kill('SIGTERM');
      await watch;
    }
  }, 60_000);
});
