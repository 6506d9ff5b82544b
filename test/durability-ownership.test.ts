/**
 * Ownership (invariant 1) against a user's own tmux: windows and sessions made by hand — with the
 * very names warden uses — are never killed by end, fresh spawn, rollback or gc, and never
 * adopted by name.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../src/model/schema.js';
import { tmuxFailingAfterLaunch } from './support/fault-tmux.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer } from './support/tmux-server.js';
import { warden, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('ownership');
const { tmux } = server;
let t: CliTarget;
/** The user's own windows: window id → pid of its program. */
const userWindows = new Map<string, number>();

async function userWindow(target: string, name: string, tag?: string): Promise<void> {
  const [windowId, pid] = (await tmux.run(['new-window', '-d', '-P', '-F', '#{window_id} #{pane_pid}', '-t', target, '-n', name, ...LONG_RUNNING]))
    .trim()
    .split(' ');
  if (tag) await tmux.run(['set-option', '-w', '-t', windowId!, '@warden_id', tag]);
  userWindows.set(windowId!, Number(pid));
}

async function expectUserWindowsIntact(): Promise<void> {
  const probe = await tmux.probeAll();
  expect(probe.kind).toBe('ok');
  const present = new Map(probe.kind === 'ok' ? probe.panes.map((p) => [p.windowId, p.pid]) : []);
  for (const [windowId, pid] of userWindows) expect(present.get(windowId), windowId).toBe(pid);
  expect((await tmux.run(['list-sessions', '-F', '#{session_name}'])).split('\n')).toEqual(expect.arrayContaining(['warden', 'mywork']));
}

async function spawn(args: string[]): Promise<SessionInfo> {
  const r = await warden(t, ['--json', 'spawn', ...args]);
  expect(r, r.stderr).toMatchObject({ exitCode: 0 });
  return JSON.parse(r.stdout) as SessionInfo;
}

beforeAll(async () => {
  t = { state: server.stateFile(), socket: server.socket };
  // The user got there first: a session named like warden's group, windows named like our keys,
  // one of them even carrying a warden tag of some other state file.
  await tmux.run(['new-session', '-d', '-s', 'warden', '-n', 'api', ...LONG_RUNNING]);
  const first = (await tmux.run(['list-windows', '-t', '=warden:', '-F', '#{window_id} #{pane_pid}'])).trim().split(' ');
  userWindows.set(first[0]!, Number(first[1]));
  await tmux.run(['new-session', '-d', '-s', 'mywork', '-n', 'api', ...LONG_RUNNING]);
  const second = (await tmux.run(['list-windows', '-t', '=mywork:', '-F', '#{window_id} #{pane_pid}'])).trim().split(' ');
  userWindows.set(second[0]!, Number(second[1]));
  await userWindow('=warden:', 'api', 'a-tag-from-another-state-file');
  await userWindow('=warden:', 'doomed');
  await userWindow('=mywork:', 'doomed');
});

describe('invariant 1: ownership guard against windows and sessions made by hand', () => {
  it('end kills only the window carrying the session id, never a same-named one', async () => {
    const info = await spawn(['api', '--', ...LONG_RUNNING]);
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
    expect((await warden(t, ['end', 'api'])).exitCode).toBe(0);
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
    await expectUserWindowsIntact();
  });

  it('a fresh spawn replaces only its own window', async () => {
    const old = await spawn(['api', '--', ...LONG_RUNNING]);
    const fresh = await spawn(['api', '--mode', 'fresh']);
    expect(await ownedWindows(tmux, old.sessionId!)).toEqual([]);
    expect(await ownedWindows(tmux, fresh.sessionId!)).toEqual([fresh.windowId]);
    await expectUserWindowsIntact();
    expect((await warden(t, ['end', 'api'])).exitCode).toBe(0);
  });

  it('a spawn rolled back after a tmux error kills only the window carrying its id', async () => {
    const bin = tmuxFailingAfterLaunch(server.dir);
    const dir = join(server.dir, 'failing-path');
    mkdirSync(dir, { recursive: true });
    symlinkSync(bin, join(dir, 'tmux'));
    const r = await warden(t, ['spawn', 'doomed', '--', ...LONG_RUNNING], { env: { PATH: `${dir}:${dirname(process.execPath)}:${process.env.PATH}` } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^warden: spawn of doomed failed: .*injected failure/);
    const probe = await tmux.probeAll();
    const doomed = probe.kind === 'ok' ? probe.panes.filter((p) => p.windowName === 'doomed' || p.tag !== '') : [];
    // What is left named doomed or tagged is the user's, nothing of ours.
    for (const pane of doomed) expect(userWindows.has(pane.windowId), `${pane.windowId} ${pane.windowName}`).toBe(true);
    await expectUserWindowsIntact();
  });

  it('an orphan is never adopted by name, and gc ending it touches nothing of the user', async () => {
    const info = await spawn(['api', '--', ...LONG_RUNNING]);
    await tmux.run(['kill-window', '-t', info.windowId!]);
    const ls = await warden(t, ['--json', 'ls']);
    const session = (JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions.find((s) => s.key === 'api')!;
    // Three windows named api are there (two of them the user's, one tagged by someone else): not ours.
    expect(session).toMatchObject({ state: 'orphaned', sessionId: info.sessionId });
    const gc = await warden(t, ['--json', 'gc']);
    expect(gc, gc.stderr).toMatchObject({ exitCode: 0 });
    expect(gc.stdout).toContain(info.sessionId!);
    expect((await warden(t, ['status', 'api'])).exitCode).toBe(4);
    await expectUserWindowsIntact();
  });

  it('ending every session leaves the group session (the user made it) in place', async () => {
    await spawn(['one', '--', ...LONG_RUNNING]);
    await spawn(['two', '--', ...LONG_RUNNING]);
    for (const key of ['one', 'two']) expect((await warden(t, ['end', key])).exitCode).toBe(0);
    await expectUserWindowsIntact();
  });
});
