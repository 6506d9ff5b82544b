/**
 * A watch at rest costs nothing per pane: no process of a running session is looked at in /proc
 * while nothing happens, and a pane that dies without tmux firing its pane-died hook (tmux 3.3a
 * can) is still heard, through tmux's subscription on every pane's `pane_dead`.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { TransitionEvent } from '../src/engine.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('watch-idle');
const controlClientAttached = () => server.controlClientAttached();

describe('watch at rest', () => {
  it('reads nothing of the running panes’ processes while nothing happens', async () => {
    const engine = await server.engine();
    for (let i = 0; i < 5; i++) await engine.spawn(`rest-${i}`, { command: LONG_RUNNING });
    const stop = new AbortController();
    const watching = engine.watch({ signal: stop.signal });
    await waitFor(controlClientAttached, 'the control client');
    const programs = new Set(engine.list().map((s) => `/proc/${s.pid}/stat`));
    const original = fs.readFileSync;
    let procReads = 0;
    fs.readFileSync = ((file: fs.PathOrFileDescriptor, ...rest: never[]) => {
      if (typeof file === 'string' && programs.has(file)) procReads += 1;
      return (original as (...args: unknown[]) => unknown)(file, ...rest);
    }) as typeof fs.readFileSync;
    syncBuiltinESMExports();
    try {
      // A second of rest: the old watch looked at every running process ten times in it.
      const until = Date.now() + 1000;
      await waitFor(() => Date.now() >= until, 'a second of rest', { timeoutMs: 5000, intervalMs: 50 });
      expect(procReads).toBe(0);
    } finally {
      fs.readFileSync = original;
      syncBuiltinESMExports();
      stop.abort();
      await watching;
      await engine.close();
    }
  });

  it('hears a pane that dies without its pane-died hook, from the pane_dead subscription', async () => {
    const engine = await server.engine();
    const heard: TransitionEvent[] = [];
    engine.subscribe((event) => heard.push(event));
    const info = await engine.spawn('unhooked', { command: LONG_RUNNING });
    const stop = new AbortController();
    const watching = engine.watch({ signal: stop.signal, safetyIntervalMs: 600_000 });
    await waitFor(controlClientAttached, 'the control client');
    // What tmux 3.3a sometimes does: the pane dies and no pane-died hook runs.
    await server.tmux.run(['set-hook', '-uw', '-t', info.windowId!, 'pane-died']);
    process.kill(info.pid!, 'SIGKILL');
    await waitFor(() => heard.some((e) => e.key === 'unhooked' && e.to === 'active.exited.stopped'), 'the exit heard', { timeoutMs: 10_000 });
    expect(engine.get('unhooked')?.exitStatus).toBe(137);
    stop.abort();
    await watching;
    await engine.close();
  });
});
