/**
 * A long-running engine after faults: work it left unconfirmed, windows that came back, panes
 * whose ids a new tmux server reused, a state file it cannot write, a close() mid-reconcile, and
 * other processes' changes. Each against a real tmux server on a private socket.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../src/store/file-store.js';
import { createEngine } from '../src/engine.js';
import { StateFileError } from '../src/model/errors.js';
import { realTmux, tmuxWithFaultSwitch } from './support/fault-tmux.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { storeWithCommit } from './support/store.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('recovery');
const restarted = useTmuxServer('recovery-restart');
const { tmux } = server;

describe('invariant 4: a spawn this engine left unconfirmed', () => {
  it('is finished by the same engine once tmux answers again, in exactly one window', async () => {
    const faults = tmuxWithFaultSwitch(server.dir);
    const engine = await server.engine({ tmuxBin: faults.bin, group: 'parked' });
    faults.fail('new-window', 'new-session', 'list-panes');
    const error = await engine.spawn('limbo', { command: LONG_RUNNING }).catch((e: Error) => e);
    expect((error as Error).message).toContain('unconfirmed');
    expect(engine.get('limbo')?.state).toBe('spawning');
    faults.heal();
    await engine.reconcile();
    const info = await waitFor(async () => {
      await engine.settle();
      return engine.get('limbo')?.state === 'active' ? engine.get('limbo') : null;
    }, 'the parked spawn to finish');
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
    await expect(engine.end('limbo')).resolves.toMatchObject({ state: 'normal' });
  });
});

describe('invariant 2: orphaned SPAWN resume when the window came back since the last probe', () => {
  it('adopts the window carrying the id instead of launching a second one', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('returner', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    expect(engine.get('returner')?.state).toBe('orphaned');
    const back = await tmux.launchWindow({ group: 'warden', name: 'returner', sessionId: info.sessionId!, command: LONG_RUNNING });
    const resumed = await engine.spawn('returner', { mode: 'resume' });
    expect(resumed.windowId).toBe(back.windowId);
    await engine.reconcile();
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([back.windowId]);
  });
});

describe('invariant 1: send and capture only reach a pane carrying the session tag', () => {
  it('refuses when a restarted tmux server gave the recorded pane id to a user pane', async () => {
    const engine = await createEngine({ stateFile: restarted.stateFile(), socket: restarted.socket });
    const info = await engine.spawn('typist', { command: LONG_RUNNING });
    await restarted.tmux.killServer();
    const typed = join(restarted.dir, 'typed.txt');
    writeFileSync(typed, '');
    const user = await restarted.tmux.run(['new-session', '-d', '-P', '-F', '#{pane_id}', '-s', 'user', `cat >> ${typed}`]);
    expect(user.trim()).toBe(info.paneId);
    await expect(engine.send('typist', 'rm -rf nothing')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(engine.capture('typist')).rejects.toMatchObject({ code: 'CONFLICT' });
    await restarted.tmux.run(['send-keys', '-t', user.trim(), 'mine', 'Enter']);
    await waitFor(() => readFileSync(typed, 'utf8') === 'mine\n', 'the user pane to get its own text');
    await engine.close();
  });
});

describe('a state file that cannot be written', () => {
  it('makes reconcile fail with the error instead of retrying forever', async () => {
    const stateFile = server.stateFile();
    const file = new StateStore(stateFile);
    let full = false;
    // A store whose commits fail once the disk is "full"; reads still work.
    const store = storeWithCommit(file, async (ops) => {
      if (full) throw new StateFileError('STATE_IO', stateFile, 'no space left on device (injected)');
      return file.commit(ops);
    });
    const engine = await server.engine({ stateFile, store });
    const info = await engine.spawn('stuck', { command: LONG_RUNNING });
    full = true;
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await expect(engine.reconcile()).rejects.toThrow('no space left on device');
  });
});

describe('close() while a reconcile waits for tmux', () => {
  it('acts on nothing the probe showed: no resumed spawn, no window, no write', async () => {
    const stateFile = server.stateFile();
    const sessionId = randomUUID();
    await writeRecord(stateFile, 'late', await persistedIn('spawning', 'late', spec(LONG_RUNNING), sessionId));
    const before = readFileSync(stateFile);
    const slow = join(server.dir, 'tmux-slow-probe');
    writeFileSync(slow, `#!/bin/sh\ncase " $* " in *" list-panes "*) sleep 0.5 ;; esac\nexec "${realTmux}" "$@"\n`);
    chmodSync(slow, 0o755);
    const engine = await createEngine({ stateFile, socket: server.socket, tmuxBin: slow, reconcileOnOpen: false });
    const reconciling = engine.reconcile();
    await engine.close();
    await expect(reconciling).resolves.toMatchObject({ transitions: [] });
    expect(await ownedWindows(tmux, sessionId)).toEqual([]);
    expect(readFileSync(stateFile)).toEqual(before);
  });
});

describe("history() and other processes' changes", () => {
  it('reading history does not hide a session another engine spawned since', async () => {
    const stateFile = server.stateFile();
    const daemon = await createEngine({ stateFile, socket: server.socket });
    const cli = await createEngine({ stateFile, socket: server.socket });
    const info = await cli.spawn('elsewhere', { command: LONG_RUNNING });
    await cli.close();
    expect(await daemon.history()).toEqual([]);
    await daemon.reconcile();
    expect(daemon.get('elsewhere')).toMatchObject({ sessionId: info.sessionId, state: 'active' });
    await expect(daemon.end('elsewhere')).resolves.toMatchObject({ state: 'normal' });
    await daemon.close();
  });
});

describe('transitions made by another process', () => {
  it('reach subscribers once read from the file, marked as made elsewhere', async () => {
    const stateFile = server.stateFile();
    const watcher = await createEngine({ stateFile, socket: server.socket });
    const heard: string[] = [];
    watcher.subscribe((t) => heard.push(`${t.key} ${t.from}→${t.to} ${t.event} ${t.origin}`));
    const cli = await createEngine({ stateFile, socket: server.socket });
    await cli.spawn('remote', { command: LONG_RUNNING });
    await watcher.sync();
    await cli.end('remote');
    await watcher.sync();
    await cli.close();
    expect(heard).toEqual(['remote normal→active.running.busy state-file elsewhere', 'remote active.running.busy→normal state-file elsewhere']);
    await watcher.close();
  });
});
