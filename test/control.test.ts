/**
 * `watch` hears tmux: a control-mode client on the group and the pane-died channel trigger a
 * reconcile the moment something changes. The poll interval is set far beyond the test timeouts,
 * so only a notification can explain a detection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { changeOf } from '../src/control.js';
import type { Engine, TransitionEvent } from '../src/engine.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('control');
const { tmux } = server;
const NEVER_POLL = { intervalMs: 600_000, safetyIntervalMs: 600_000 };

async function controlClients(): Promise<string[]> {
  const out = await tmux.run(['list-clients', '-F', '#{client_pid} #{client_control_mode}']).catch(() => '');
  return out.split('\n').filter((line) => line.endsWith(' 1'));
}

/** Watches still running when a test ends (it failed before stopping them): stopped, so no other test sees them. */
const liveWatches: AbortController[] = [];
afterEach(() => {
  for (const stop of liveWatches.splice(0)) stop.abort();
});

function startWatch(engine: Engine) {
  const seen: TransitionEvent[] = [];
  engine.subscribe((event) => seen.push(event));
  const stop = new AbortController();
  liveWatches.push(stop);
  const running = engine.watch({ ...NEVER_POLL, signal: stop.signal });
  return { seen, stop, running };
}

describe('control-mode notifications', () => {
  it('reads window and session changes as reasons to look, and ignores the rest', () => {
    expect(changeOf('%window-close @3')).toBe('window-close');
    expect(changeOf('%unlinked-window-close @3')).toBe('unlinked-window-close');
    expect(changeOf('%sessions-changed')).toBe('sessions-changed');
    expect(changeOf('%output %1 hello')).toBeNull();
    expect(changeOf('%window-closed-but-not-really')).toBeNull();
  });
});

describe('watch: active → orphaned the moment a window is killed', () => {
  it('attaches one control client and reports the transition without waiting for a poll', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('killed', { command: LONG_RUNNING });
    const { seen, stop, running } = startWatch(engine);
    await waitFor(async () => (await controlClients()).length === 1, 'a control client on the group');
    await tmux.run(['kill-window', '-t', info.windowId!]);
    const event = await waitFor(() => seen.find((e) => e.key === 'killed' && e.to === 'orphaned'), 'the orphaned transition');
    expect(event).toMatchObject({ from: expect.stringMatching(/^active\.running\.(busy|idle)$/), event: 'WINDOW_GONE' });
    expect(engine.get('killed')?.state).toBe('orphaned');
    stop.abort();
    await running;
    expect(await controlClients()).toEqual([]);
  });
});

describe('watch: active.running → active.exited the moment a pane exits', () => {
  it('hears the pane-died hook of our window and records the exit status', async () => {
    const engine = await server.engine();
    await engine.spawn('exits', { command: ['sh', '-c', 'read line; exit 7'] });
    const { seen, stop, running } = startWatch(engine);
    await waitFor(async () => (await controlClients()).length === 1, 'a control client on the group');
    await engine.send('exits', 'bye');
    const event = await waitFor(() => seen.find((e) => e.key === 'exits' && e.to === 'active.exited.stopped'), 'the exited transition');
    expect(event.session.exitStatus).toBe(7);
    stop.abort();
    await running;
  });

  it('hooks windows created before the hook existed, and only ours', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('old-window', { command: ['sh', '-c', 'read line; exit 3'] });
    await tmux.run(['set-hook', '-uw', '-t', info.windowId!, 'pane-died']);
    const mine = await tmux.run(['new-window', '-d', '-P', '-F', '#{window_id}', '-t', '=warden:', ...LONG_RUNNING]);
    const { seen, stop, running } = startWatch(engine);
    await waitFor(async () => (await controlClients()).length === 1, 'a control client on the group');
    expect(await tmux.run(['show-hooks', '-w', '-t', info.windowId!])).toContain('pane-died');
    expect(await tmux.run(['show-hooks', '-w', '-t', mine.trim()])).not.toContain('pane-died');
    await engine.send('old-window', 'bye');
    await waitFor(() => seen.find((e) => e.key === 'old-window' && e.to === 'active.exited.stopped'), 'the exited transition');
    stop.abort();
    await running;
  });
});

describe('watch: a pane that dies with no word from tmux', () => {
  // tmux 3.3a sometimes marks a pane dead without reaping it or firing pane-died: no
  // notification comes. A window without the hook stands for that case here.
  it('is seen from its process ending, and its exit status read from the kernel', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('silent', { command: ['sh', '-c', 'read line; exit 5'] });
    const { seen, stop, running } = startWatch(engine);
    await waitFor(async () => (await controlClients()).length === 1, 'a control client on the group');
    await tmux.run(['set-hook', '-uw', '-t', info.windowId!, 'pane-died']);
    await engine.send('silent', 'bye');
    const event = await waitFor(() => seen.find((e) => e.key === 'silent' && e.to === 'active.exited.stopped'), 'the exited transition');
    expect(event.session.exitStatus).toBe(5);
    stop.abort();
    await running;
  });
});

describe('watch: close() ends the control client', () => {
  it('leaves no client attached and lets watch return', async () => {
    const engine = await server.engine();
    await engine.spawn('closing', { command: LONG_RUNNING });
    const running = engine.watch(NEVER_POLL);
    await waitFor(async () => (await controlClients()).length === 1, 'a control client on the group');
    await engine.close();
    await running;
    expect(await controlClients()).toEqual([]);
  });
});

describe('watch: polling is the fallback', () => {
  it('still reconciles on its interval when no group exists to attach to', async () => {
    const engine = await server.engine({ group: 'no-such-group-yet' });
    const stop = new AbortController();
    const before = engine.tmux.calls;
    const running = engine.watch({ intervalMs: 20, signal: stop.signal });
    await waitFor(() => engine.tmux.calls >= before + 3, 'three polls');
    expect(await controlClients()).toEqual([]);
    stop.abort();
    await running;
  });
});
