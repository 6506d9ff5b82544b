/**
 * The tmux faults of real machines (defects 2, 3, 4, 6 and 7), each on a real tmux server of its
 * own: a socket file deleted under a running server, panes swapped, killed and respawned by
 * hand, a program that ignores SIGHUP, a program that does not exist, and the environment and
 * command line of the window and of the tmux server.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processEnded } from '../src/tmux/host.js';
import { defaultLaunchDir } from '../src/tmux/launch-env.js';
import { LONG, readState, session, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const socketServer = useTmuxServer('fault-socket');
const paneServer = useTmuxServer('fault-pane');
const endServer = useTmuxServer('fault-end');
const envServer = useTmuxServer('fault-env');

/** Whether the program runs (a zombie waiting for tmux to reap it does not). */
function alive(pid: number | null): boolean {
  return pid !== null && !processEnded(pid);
}

async function pidOfPane(tmux: typeof paneServer.tmux, paneId: string): Promise<number> {
  return Number((await tmux.run(['display-message', '-p', '-t', paneId, '#{pane_pid}'])).trim());
}

describe('the socket file deleted while its server runs (defect 2)', () => {
  it('socket gone: nothing is orphaned, ended or started on a second server; kill -USR1 brings it all back', async () => {
    const w = warden(socketServer);
    const agent = session(await w.run(['spawn', 'agent', '--json', ...LONG]));
    const serverPid = Number((await socketServer.tmux.run(['display-message', '-p', '#{pid}'])).trim());
    const socket = socketServer.tmux.socketFile();
    rmSync(socket);

    const ls = await w.run(['ls', '--json']);
    expect(ls.exitCode).toBe(0);
    expect(ls.stderr).toContain(`the socket of tmux server ${serverPid} is gone`);
    expect(ls.stderr).toContain(`kill -USR1 ${serverPid}`);
    expect(JSON.parse(ls.stdout)).toMatchObject({ confirmed: false, sessions: [{ key: 'agent', state: 'active', pid: agent.pid }] });

    const spawn = await w.run(['spawn', 'second', ...LONG]);
    expect(spawn.exitCode).toBe(1);
    expect(spawn.stderr).toContain(`kill -USR1 ${serverPid}`);
    // No second server was started on the same path.
    expect(existsSync(socket)).toBe(false);

    const end = await w.run(['end', 'agent']);
    expect(end.exitCode).toBe(1);
    expect(end.stderr).toContain(`kill -USR1 ${serverPid}`);
    expect(alive(agent.pid)).toBe(true);

    const doctor = await w.run(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toContain(`the socket of tmux server ${serverPid} is gone`);
    expect(doctor.stdout).toContain(`kill -USR1 ${serverPid}`);

    process.kill(serverPid, 'SIGUSR1');
    await waitFor(() => existsSync(socket), 'tmux to recreate its socket');
    // One copy of the program, its window tagged and recorded; the end asked for is carried out.
    const after = await w.run(['ls', '--json']);
    expect(after).toMatchObject({ exitCode: 0, stderr: '' });
    const panes = await socketServer.tmux.probeAll();
    // (the server may have exited with its last window)
    expect(panes.kind === 'ok' ? panes.panes.filter((p) => p.tag !== '' && p.tag !== agent.sessionId) : []).toEqual([]);
    expect(readState(w.stateFile).sessions.second).toBeUndefined();
    await waitFor(() => !alive(agent.pid), 'the ended program to be gone');
    // The identity that told the two apart was recorded with the session.
    expect(agent.serverPid).toBe(serverPid);
  });
});

describe('panes, not just windows (defect 3)', () => {
  const { tmux } = paneServer;

  it('swapped pane: followed to its new window; end kills the agent, never the user pane', async () => {
    const w = warden(paneServer);
    const agent = session(await w.run(['spawn', 'swapped', '--json', ...LONG]));
    // The user's own window, split in two, in the same tmux session.
    const user = (await tmux.run(['new-window', '-d', '-t', '=warden:', '-P', '-F', '#{pane_id}', 'sleep', '700'])).trim();
    const userOther = (await tmux.run(['split-window', '-d', '-t', user, '-P', '-F', '#{pane_id}', 'sleep', '701'])).trim();
    const [userPid, otherPid] = [await pidOfPane(tmux, user), await pidOfPane(tmux, userOther)];
    await tmux.run(['swap-pane', '-s', agent.paneId!, '-t', user]);

    const moved = session(await w.run(['status', 'swapped', '--json']));
    expect(moved).toMatchObject({ state: 'active', paneId: agent.paneId, pid: agent.pid, exitStatus: null });
    expect(moved.windowId).not.toBe(agent.windowId);

    expect((await w.run(['end', 'swapped'])).exitCode).toBe(0);
    expect(alive(agent.pid)).toBe(false);
    expect(alive(userPid)).toBe(true);
    expect(alive(otherPid)).toBe(true);
    const probe = await tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.some((p) => p.tag === agent.sessionId)).toBe(false);
  });

  it('killed pane in a split window: orphaned, doctor says so, end spares the user pane', async () => {
    const w = warden(paneServer);
    const agent = session(await w.run(['spawn', 'split', '--json', ...LONG]));
    const user = (await tmux.run(['split-window', '-d', '-t', agent.windowId!, '-P', '-F', '#{pane_id}', 'sleep', '702'])).trim();
    const userPid = await pidOfPane(tmux, user);
    await tmux.run(['kill-pane', '-t', agent.paneId!]);

    expect(session(await w.run(['status', 'split', '--json']))).toMatchObject({ state: 'orphaned', pid: null });
    const doctor = await w.run(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/orphaned session\(s\) \(split\)/);
    const send = await w.run(['send', 'split', 'hello']);
    expect(send.exitCode).toBe(3);
    expect(send.stderr).toContain('split is orphaned');

    expect((await w.run(['end', 'split'])).exitCode).toBe(0);
    expect(alive(userPid)).toBe(true);
  });

  it('respawned pane: a program restarted by hand in the exited pane is running again, with its pid', async () => {
    const w = warden(paneServer);
    const agent = session(await w.run(['spawn', 'again', '--json', '--', 'sh', '-c', 'exit 3']));
    await waitFor(async () => session(await w.run(['status', 'again', '--json'])).exitStatus === 3, 'the exit');
    await tmux.run(['respawn-pane', '-k', '-t', agent.paneId!, 'sleep', '703']);
    const pid = await pidOfPane(tmux, agent.paneId!);
    expect(session(await w.run(['status', 'again', '--json']))).toMatchObject({ state: 'active', exitStatus: null, pid });
    expect((await w.run(['end', 'again'])).exitCode).toBe(0);
    expect(alive(pid)).toBe(false);
  });
});

describe('end of a program that ignores SIGHUP (defect 4)', () => {
  it('ignores SIGHUP: end escalates to SIGTERM and reports only once the program is gone', async () => {
    const w = warden(endServer);
    const agent = session(await w.run(['spawn', 'stubborn', '--json', '--', 'sh', '-c', 'trap "" HUP; exec sleep 777']));
    expect(alive(agent.pid)).toBe(true);
    const end = await w.run(['end', 'stubborn']);
    expect(end).toMatchObject({ exitCode: 0, stdout: expect.stringContaining('stubborn: ended') });
    expect(alive(agent.pid)).toBe(false);
  });
});

describe('a program that does not exist (defect 6)', () => {
  it('missing binary: status and doctor say what happened, with the exit status and the program\'s last output', async () => {
    const w = warden(endServer);
    session(await w.run(['spawn', 'enx', '--json', '--', '/no/such/binary']));
    const status = await waitFor(async () => {
      const r = await w.run(['status', 'enx']);
      return /exit status 127/.test(r.stdout) ? r : null;
    }, 'the exit');
    expect(status.stdout).toMatch(/output\s+.*\/no\/such\/binary.*(not found|No such file)/);
    expect(session(await w.run(['status', 'enx', '--json'])).lastOutput).toMatch(/\/no\/such\/binary.*(not found|No such file)/);
    const doctor = await w.run(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/enx exited with status 127 \(its program \/no\/such\/binary was not found: it said ".*(not found|No such file).*"\)/);

    // A program that fails by itself: status shows its exit status and what it printed.
    await w.run(['spawn', 'fails', '--', 'sh', '-c', 'echo "config file missing" >&2; exit 1']);
    const failed = await waitFor(async () => {
      const r = await w.run(['status', 'fails']);
      return /exit status 1/.test(r.stdout) ? r : null;
    }, 'the exit');
    expect(failed.stdout).toMatch(/output\s+config file missing/);
  });
});

describe('the environment of the window (defect 7)', () => {
  it('caller environment: each launch gets its caller\'s variables, and no --env value sits in the tmux server\'s argv', async () => {
    const w = warden(envServer);
    const out = (name: string) => join(envServer.dir, `${name}.env`);
    const printEnv = (name: string) => ['--', 'sh', '-c', `env > ${out(name)}; exec sleep 600`];
    // The first spawn starts the tmux server.
    const first = session(await w.run(['spawn', 'first', '--json', '--env', 'API_KEY=s3cret-value', ...printEnv('first')], { env: { CALLER_VAR: 'one' } }));
    const second = session(await w.run(['spawn', 'second', '--json', ...printEnv('second')], { env: { CALLER_VAR: 'two', ONLY_SECOND: 'yes' } }));
    await waitFor(() => existsSync(out('first')) && existsSync(out('second')), 'both programs to print their environment');
    const firstEnv = readFileSync(out('first'), 'utf8');
    const secondEnv = readFileSync(out('second'), 'utf8');
    expect(firstEnv).toMatch(/^API_KEY=s3cret-value$/m);
    expect(firstEnv).toMatch(/^CALLER_VAR=one$/m);
    expect(secondEnv).toMatch(/^CALLER_VAR=two$/m);
    expect(secondEnv).toMatch(/^ONLY_SECOND=yes$/m);
    expect(secondEnv).not.toContain('s3cret-value');
    expect(secondEnv).toMatch(/^WARDEN_KEY=second$/m);
    expect(secondEnv).toMatch(/^TERM=(screen|tmux)/m);

    // Nothing long-lived shows the value: the tmux server, the programs.
    const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    expect(first.serverPid).toEqual(expect.any(Number));
    expect(argvOf(first.serverPid!)).not.toContain('s3cret-value');
    expect(argvOf(first.pid!)).not.toContain('s3cret-value');
    expect(argvOf(second.pid!)).not.toContain('s3cret-value');
    // The env files are gone once read.
    const launchDir = defaultLaunchDir();
    const left = existsSync(launchDir) ? readdirSync(launchDir).filter((f) => readFileSync(join(launchDir, f), 'utf8').includes('s3cret-value')) : [];
    expect(left).toEqual([]);
  });
});
