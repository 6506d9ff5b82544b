/**
 * The restart policy (DESIGN rows `active.exited → spawning` when a restart is due and
 * `active.exited (gaveUp)` when the limit is reached), over a real tmux server: deadlines live in
 * context and are applied by whoever reconciles, with exponential backoff, and giving up is a
 * state a hook can hear. Figures are printed, not asserted as timings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restartDelayMs } from '../machines/session.js';
import { HookRunner, parseHooksConfig, type TransitionEvent } from '../src/index.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('restart');

function stateOf(file: string, key: string) {
  return JSON.parse(readFileSync(file, 'utf8')).sessions[key]?.snapshot;
}

describe('active.exited → spawning when the restart policy is due (respawn-pane, same id, restarts + 1)', () => {
  it('restarts a failing program with growing backoff, then gives up (active.exited.gaveUp) and a hook hears it', async () => {
    const marker = join(server.dir, 'gave-up');
    const hooks = new HookRunner(parseHooksConfig({ hooks: { 'active.exited.gaveUp': `echo "$WARDEN_KEY" > '${marker}'` } }), { cwd: server.dir });
    const engine = await server.engine({ onTransition: hooks.listener });
    const events: TransitionEvent[] = [];
    engine.subscribe((e) => events.push(e));
    const restart = { policy: 'on-failure' as const, maxRestarts: 3, backoffMs: 40, maxBackoffMs: 100 };
    const first = await engine.spawn('crashy', { command: ['sh', '-c', 'exit 9'], restart });
    const ac = new AbortController();
    const watching = engine.watch({ signal: ac.signal, intervalMs: 20 });
    const gaveUp = await waitFor(() => {
      const snapshot = stateOf(engine.stateFile, 'crashy');
      return snapshot && JSON.stringify(snapshot.value) === JSON.stringify({ active: { exited: 'gaveUp' } }) ? snapshot : null;
    }, 'the restart policy to give up', { timeoutMs: 20_000 });
    ac.abort();
    await watching;
    await hooks.idle();
    expect(gaveUp.context).toMatchObject({ sessionId: first.sessionId, windowId: first.windowId, restarts: 3, restartAt: null, exitStatus: 9 });
    expect(engine.get('crashy')).toMatchObject({ restarts: 3, restartPolicy: restart, restartAt: null, exitStatus: 9 });
    // The restarted program may be seen running for a moment before it exits again: not counted here.
    const path = events.filter((e) => e.key === 'crashy' && !e.to.startsWith('active.running')).map((e) => e.to);
    expect(path).toEqual([
      'spawning',
      'active.exited.backoff',
      'spawning',
      'active.exited.backoff',
      'spawning',
      'active.exited.backoff',
      'spawning',
      'active.exited.gaveUp',
    ]);
    // Each restart happened no sooner than its deadline; the waits grow as the policy says.
    const exits = events.filter((e) => e.to === 'active.exited.backoff');
    const restarts = events.filter((e) => e.from === 'active.exited.backoff');
    const waits = restarts.map((r, i) => Date.parse(r.at) - Date.parse(exits[i]!.at));
    restarts.forEach((_, i) => expect(waits[i]).toBeGreaterThanOrEqual(restartDelayMs(restart, i + 1) - 5));
    console.log(`restart waits (ms) with backoff 40, cap 100: ${waits.join(', ')}; planned ${[1, 2, 3].map((n) => restartDelayMs(restart, n)).join(', ')}`);
    await waitFor(() => existsSync(marker), 'the gaveUp hook to run');
    expect(readFileSync(marker, 'utf8').trim()).toBe('crashy');
    await hooks.close();
  });

  it('a person\'s resume starts the count again; on-failure leaves a clean exit alone; always restarts it', async () => {
    const engine = await server.engine();
    const restart = { policy: 'on-failure' as const, maxRestarts: 0 };
    await engine.spawn('limited', { command: ['sh', '-c', 'exit 1'], restart });
    await waitFor(async () => (await engine.reconcile(), engine.get('limited')?.exitStatus === 1), 'limited to exit');
    expect(stateOf(engine.stateFile, 'limited').value).toEqual({ active: { exited: 'gaveUp' } });
    const resumed = await engine.spawn('limited', { mode: 'resume', resumeCommand: 'sleep 600' });
    expect(resumed).toMatchObject({ state: 'active', exitStatus: null, restarts: 0 });

    await engine.spawn('clean', { command: ['true'], restart: { policy: 'on-failure' } });
    await waitFor(async () => (await engine.reconcile(), engine.get('clean')?.exitStatus === 0), 'clean to exit');
    expect(stateOf(engine.stateFile, 'clean').value).toEqual({ active: { exited: 'stopped' } });

    await engine.spawn('again', { command: ['sh', '-c', 'test -e again-ran && exec sleep 600; touch again-ran'], cwd: server.dir, restart: { policy: 'always', backoffMs: 0 } });
    const back = await waitFor(async () => {
      await engine.reconcile();
      const info = engine.get('again');
      return info?.restarts === 1 && info.exitStatus === null ? info : null;
    }, 'again to be restarted once');
    expect(back.lastCommand).toEqual(['sh', '-c', 'test -e again-ran && exec sleep 600; touch again-ran']);
  });

  it('a restart due while no process ran is applied by the next process that reconciles', async () => {
    const stateFile = server.stateFile();
    const { createEngine } = await import('../src/engine.js');
    const first = await createEngine({ stateFile, socket: server.socket });
    await first.spawn('later', { command: ['sh', '-c', 'test -e later-ran && exec sleep 600; touch later-ran; exit 4'], cwd: server.dir, restart: { policy: 'on-failure', backoffMs: 300 } });
    await waitFor(async () => (await first.reconcile(), first.get('later')?.restartAt), 'a restart to be scheduled');
    await first.close();
    const due = Date.parse(stateOf(stateFile, 'later').context.restartAt);
    await waitFor(() => Date.now() > due, 'the deadline to pass with no process running');
    const second = await createEngine({ stateFile, socket: server.socket });
    const info = await waitFor(async () => {
      await second.reconcile();
      const current = second.get('later');
      return current?.restarts === 1 && current.exitStatus === null ? current : null;
    }, 'the reconcile after the deadline to restart it');
    expect(info.state).toBe('active');
    await second.close();
  });
});
