/**
 * Defect 5 of the tmux faults: `watch` must hear every exit from tmux, not from its safety poll.
 * The safety poll is pushed out of reach here, so only what tmux reports can deliver the exits.
 */
import { describe, expect, it } from 'vitest';
import type { TransitionEvent } from '../src/engine.js';
import { session, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('fault-watch');

describe('watch hears exits from tmux (defect 5)', () => {
  it('watch gap: exits of windows another process creates or resumes after watch attached are heard without the safety poll', async () => {
    const engine = await server.engine();
    const w = warden(server, engine.stateFile);
    // The group exists before watch starts, so its control client attaches at once.
    session(await w.run(['spawn', 'anchor', '--json', '--', 'sleep', '600']));
    const heard: TransitionEvent[] = [];
    engine.subscribe((event) => heard.push(event));
    const stop = new AbortController();
    const watching = engine.watch({ safetyIntervalMs: 600_000, signal: stop.signal });
    try {
      await waitFor(() => engine.get('anchor')?.state === 'active', 'watch to start');
      const exited = (key: string, after: number) =>
        waitFor(
          () => heard.slice(after).find((t) => t.key === key && t.session.exitStatus !== null && t.to === 'active.exited.stopped'),
          `watch to hear ${key} exit (heard: ${JSON.stringify(heard.map((t) => [t.key, t.from, t.to, t.event, t.at]))})`,
          { timeoutMs: 8000 },
        );
      for (let round = 0; round < 8; round++) {
        const key = `dies-${round}`;
        // Another process creates the window after the control client attached; it dies 1 s later.
        let mark = heard.length;
        await w.run(['spawn', key, '--', 'sh', '-c', 'sleep 1; exit 5']);
        expect((await exited(key, mark)).session.exitStatus).toBe(5);
        // Another process resumes it (respawn-pane in the same pane); it dies again 1 s later.
        mark = heard.length;
        const resumed = await w.run(['spawn', key, '--mode', 'resume']);
        expect(resumed.exitCode).toBe(0);
        expect((await exited(key, mark)).session.exitStatus).toBe(5);
      }
    } finally {
      stop.abort();
      await watching;
    }
  }, 90_000);
});
