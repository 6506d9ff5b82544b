/**
 * tmux faults: the server killed, its socket deleted, the binary missing, tmux hanging, a window
 * killed in the middle of a spawn. Each against a real server of its own (they run concurrently).
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine.js';
import type { SessionInfo } from '../src/model/schema.js';
import { Tmux } from '../src/tmux.js';
import { realTmux } from './support/fault-tmux.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, type TmuxTestServer } from './support/tmux-server.js';
import { readState, stateBytes, warden, type CliTarget } from './support/warden-cli.js';

const killed = useTmuxServer('fault-killed');
const unlinked = useTmuxServer('fault-unlinked');
const missing = useTmuxServer('fault-missing');
const hanging = useTmuxServer('fault-hanging');
const midSpawn = useTmuxServer('fault-midspawn');
const lateTwin = useTmuxServer('fault-late-twin');
const regroup = useTmuxServer('fault-regroup');

function target(server: TmuxTestServer): CliTarget {
  return { state: server.stateFile(), socket: server.socket };
}

async function spawnAll(t: CliTarget, keys: string[]): Promise<SessionInfo[]> {
  const infos: SessionInfo[] = [];
  for (const key of keys) {
    const r = await warden(t, ['--json', 'spawn', key, '--', ...LONG_RUNNING]);
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    infos.push(JSON.parse(r.stdout) as SessionInfo);
  }
  return infos;
}

async function lsJson(t: CliTarget, env?: Record<string, string>): Promise<SessionInfo[]> {
  const r = await warden(t, ['--json', 'ls'], { env });
  expect(r, r.stderr).toMatchObject({ exitCode: 0 });
  return (JSON.parse(r.stdout) as { sessions: SessionInfo[] }).sessions;
}

/** A directory holding a fake `tmux` (first on PATH) with the given shell body. */
function fakeTmuxDir(server: TmuxTestServer, name: string, body: string): string {
  const dir = join(server.dir, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'tmux');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

describe.concurrent('tmux faults', () => {
  it('the server killed: every session becomes orphaned, and resumes into a new server', async () => {
    const t = target(killed);
    const infos = await spawnAll(t, ['a', 'b', 'c']);
    await killed.tmux.killServer();
    const sessions = await lsJson(t);
    expect(sessions.map((s) => [s.key, s.state, s.sessionId])).toEqual(infos.map((i) => [i.key, 'orphaned', i.sessionId]));
    const resumed = await warden(t, ['--json', 'spawn', 'b', '--mode', 'resume', '--resume-command', 'sleep 600']);
    expect(resumed, resumed.stderr).toMatchObject({ exitCode: 0 });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ key: 'b', state: 'active', sessionId: infos[1]!.sessionId });
    expect(await ownedWindows(killed.tmux, infos[1]!.sessionId!)).toHaveLength(1);
  });

  it('the socket deleted while its server runs: unknown (invariant 9), nothing orphaned or killed, all there when the socket returns', async () => {
    const t = target(unlinked);
    const infos = await spawnAll(t, ['x', 'y']);
    const serverPid = Number((await unlinked.tmux.run(['display-message', '-p', '#{pid}'])).trim());
    const socketPath = (await unlinked.tmux.run(['display-message', '-p', '#{socket_path}'])).trim();
    rmSync(socketPath);
    try {
      const blind = await lsJson(t);
      expect(blind.map((s) => s.state)).toEqual(['active', 'active']);
      // Nothing was killed: the programs still run in their windows.
      for (const info of infos) expect(() => process.kill(info.pid!, 0)).not.toThrow();
    } finally {
      process.kill(serverPid, 'SIGUSR1'); // tmux recreates its socket
    }
    const { waitFor } = await import('./support/tmux-server.js');
    await waitFor(async () => (await unlinked.tmux.probeAll()).kind === 'ok', 'the socket to come back');
    const back = await lsJson(t);
    expect(back.map((s) => [s.key, s.state, s.sessionId, s.windowId])).toEqual(
      infos.map((i) => [i.key, 'active', i.sessionId, i.windowId]),
    );
  });

  it('a connection that fails for another reason than a missing socket is unknown, not "no server"', async () => {
    const loop = join(unlinked.dir, 'loop.sock');
    symlinkSync(loop, loop); // connect() fails with ELOOP: the socket is there but unusable
    expect((await new Tmux({ socket: { path: loop } }).probeAll()).kind).toBe('unknown');
    expect((await new Tmux({ socket: { path: join(unlinked.dir, 'absent.sock') } }).probeAll()).kind).toBe('no-server');
  });

  it('the tmux binary missing from PATH: exit 1 naming the fix, and the state file untouched', async () => {
    const t = target(missing);
    await spawnAll(t, ['kept']);
    // A spawn left half-done by a dead process: with no tmux, it must not be rolled back.
    await writeRecord(t.state, 'half-done', await persistedIn('spawning', 'half-done', spec(LONG_RUNNING), randomUUID()));
    const before = stateBytes(t.state);
    const noTmux = { PATH: join(missing.dir, 'empty-path') };
    for (const args of [['ls'], ['status', 'kept'], ['spawn', 'new', '--', 'true'], ['end', 'kept'], ['spawn', 'kept', '--mode', 'resume']]) {
      const r = await warden(t, args, { env: noTmux });
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr).toBe('warden: tmux not found (tmux): install tmux >= 3.2');
      expect(stateBytes(t.state)).toBe(before);
    }
    const doctor = await warden(t, ['--json', 'doctor'], { env: noTmux });
    expect(doctor.exitCode).toBe(1);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ healthy: false, tmux: { found: false } });
    expect(stateBytes(t.state)).toBe(before);
  });

  it('tmux hanging: the probe times out, is unknown, and nothing is orphaned or cleaned', async () => {
    const t = target(hanging);
    const infos = await spawnAll(t, ['slow-a', 'slow-b']);
    const before = stateBytes(t.state);
    const dir = fakeTmuxDir(hanging, 'hang', `case " $* " in *" list-panes "*) exec sleep 60 ;; esac\nexec "${realTmux}" "$@"`);
    const sessions = await lsJson(t, { PATH: `${dir}:${process.env.PATH}` });
    expect(sessions.map((s) => [s.key, s.state])).toEqual([
      ['slow-a', 'active'],
      ['slow-b', 'active'],
    ]);
    expect(stateBytes(t.state)).toBe(before);
    for (const info of infos) expect(await ownedWindows(hanging.tmux, info.sessionId!)).toEqual([info.windowId]);

    // Through the engine with short timeouts: an end whose cleanup cannot reach tmux stays
    // ending (not normal, not orphaned) and is finished once tmux answers again.
    const stuck = await createEngine({ stateFile: t.state, socket: hanging.socket, tmuxBin: join(dir, 'tmux'), probeTimeoutMs: 300, tmuxTimeoutMs: 300 });
    expect((await stuck.reconcile()).probe).toBe('unknown');
    const err = await stuck.end('slow-a').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TMUX_FAILED', message: expect.stringMatching(/stays ending/) });
    await stuck.close();
    expect(readState(t.state).sessions['slow-a']!.snapshot.value).toBe('ending');
    expect(await ownedWindows(hanging.tmux, infos[0]!.sessionId!)).toEqual([infos[0]!.windowId]);
    const recovered = await lsJson(t);
    expect(recovered.map((s) => [s.key, s.state])).toEqual([['slow-b', 'active']]);
    expect(await ownedWindows(hanging.tmux, infos[0]!.sessionId!)).toEqual([]);
    expect(await ownedWindows(hanging.tmux, infos[1]!.sessionId!)).toEqual([infos[1]!.windowId]);
  });

  it('tmux hanging in the middle of a spawn: unconfirmed (not rolled back), finished by the next ls with one window', async () => {
    const t = target(hanging);
    // new-window creates and tags the window, then tmux hangs; the rollback's probe hangs too.
    const dir = fakeTmuxDir(
      hanging,
      'hang-after-create',
      `case " $* " in
  *" new-window "*|*" new-session "*) "${realTmux}" "$@" >/dev/null || exit $?; exec sleep 60 ;;
  *" list-panes "*) exec sleep 60 ;;
esac
exec "${realTmux}" "$@"`,
    );
    // A process of its own (short timeouts through the library), which then exits like a CLI call.
    const script = `
      const { createEngine } = await import(${JSON.stringify(join(process.cwd(), 'dist/src/engine.js'))});
      const engine = await createEngine({ stateFile: ${JSON.stringify(t.state)}, socket: ${JSON.stringify(hanging.socket)},
        tmuxBin: ${JSON.stringify(join(dir, 'tmux'))}, tmuxTimeoutMs: 300, probeTimeoutMs: 300 });
      const err = await engine.spawn('hung', { command: ['sleep', '600'] }).catch((e) => e);
      await engine.close();
      console.log(JSON.stringify({ code: err.code, message: err.message }));`;
    const child = await execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, encoding: 'utf8' });
    expect(child.exitCode, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toMatchObject({ code: 'TMUX_FAILED', message: expect.stringMatching(/^spawn of hung is unconfirmed: .*stays spawning/) });
    const record = readState(t.state).sessions.hung!;
    expect(record.snapshot.value).toBe('spawning');
    const sessionId = record.snapshot.context.sessionId!;
    const created = await ownedWindows(hanging.tmux, sessionId);
    expect(created).toHaveLength(1); // the window tmux made before it hung: it must not be lost track of

    const sessions = await lsJson(t);
    expect(sessions.find((s) => s.key === 'hung')).toMatchObject({ state: 'active', sessionId, windowId: created[0] });
    expect(await ownedWindows(hanging.tmux, sessionId)).toEqual(created);
  });

  it("a killed process's tmux client creating its window late: the duplicate is ended by the next ls, the record's window kept", async () => {
    const t = target(lateTwin);
    const [info] = await spawnAll(t, ['late-twin']);
    // What a SIGKILLed spawn's still-running tmux client does after another process relaunched it.
    const twin = (await lateTwin.tmux.run(['new-window', '-d', '-P', '-F', '#{window_id}', '-t', '=warden:', 'sleep', '600'])).trim();
    await lateTwin.tmux.run(['set-option', '-w', '-t', twin, '@warden_id', info!.sessionId!]);
    expect((await ownedWindows(lateTwin.tmux, info!.sessionId!)).sort()).toEqual([info!.windowId, twin].sort());
    const sessions = await lsJson(t);
    expect(sessions).toEqual([expect.objectContaining({ key: 'late-twin', state: 'active', windowId: info!.windowId })]);
    expect(await ownedWindows(lateTwin.tmux, info!.sessionId!)).toEqual([info!.windowId]);
  });

  it('the group created and removed by other processes between our launch calls: the spawn still makes one window', async () => {
    const t = target(regroup);
    const mark = join(regroup.dir, 'raced');
    // Our new-window finds no group; just before our new-session, another process's first spawn
    // creates it (ours fails: duplicate); just after, that process ends its last window and the
    // group is gone again when we go back to new-window.
    const dir = fakeTmuxDir(
      regroup,
      'group-race',
      `case " $* " in
  *" new-session "*)
    if [ ! -e "${mark}" ]; then
      : > "${mark}"
      "${realTmux}" -L "$2" new-session -d -s warden sleep 600
      "${realTmux}" "$@"; rc=$?
      "${realTmux}" -L "$2" kill-session -t =warden
      exit $rc
    fi ;;
esac
exec "${realTmux}" "$@"`,
    );
    const r = await warden(t, ['--json', 'spawn', 'raced', '--', ...LONG_RUNNING], { env: { PATH: `${dir}:${process.env.PATH}` } });
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const info = JSON.parse(r.stdout) as SessionInfo;
    expect(info).toMatchObject({ key: 'raced', state: 'active' });
    expect(await ownedWindows(regroup.tmux, info.sessionId!)).toEqual([info.windowId]);
    expect(readFileSync(mark, 'utf8')).toBe(''); // the race did happen
  });

  it('a window killed in the middle of a spawn: orphaned on the next ls, resumed into one window', async () => {
    const t = target(midSpawn);
    // The window is created and tagged for real, then killed before the spawn hears back.
    const dir = fakeTmuxDir(
      midSpawn,
      'kill-after-create',
      `case " $* " in
  *" new-window "*|*" new-session "*)
    out=$("${realTmux}" "$@") || exit $?
    "${realTmux}" -L "$2" kill-window -t "$(printf '%s' "$out" | cut -d "$(printf '\\037')" -f1)"
    printf '%s\\n' "$out"; exit 0 ;;
esac
exec "${realTmux}" "$@"`,
    );
    const r = await warden(t, ['--json', 'spawn', 'cut-short', '--resume-command', 'sleep 600', '--', ...LONG_RUNNING], {
      env: { PATH: `${dir}:${process.env.PATH}` },
    });
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const info = JSON.parse(r.stdout) as SessionInfo;
    expect(await ownedWindows(midSpawn.tmux, info.sessionId!)).toEqual([]);
    expect((await lsJson(t)).map((s) => [s.key, s.state, s.sessionId])).toEqual([['cut-short', 'orphaned', info.sessionId]]);
    const resumed = await warden(t, ['--json', 'spawn', 'cut-short', '--mode', 'resume']);
    expect(resumed, resumed.stderr).toMatchObject({ exitCode: 0 });
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'active', sessionId: info.sessionId });
    expect(await ownedWindows(midSpawn.tmux, info.sessionId!)).toHaveLength(1);
  });
});
