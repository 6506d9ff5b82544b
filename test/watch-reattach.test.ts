/**
 * The group session goes away with its last window (every session ended) and comes back with the
 * next spawn. A watch must attach its control client again soon after, not a safety interval
 * (a minute) later: until it does, exits and closed windows are only heard by polling.
 */
import { describe, expect, it } from 'vitest';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('watch-reattach');
const controlClientAttached = () => server.controlClientAttached();

describe('watch across the group going away', () => {
  it('attaches again within seconds when the next spawn brings the group back', async () => {
    const engine = await server.engine();
    const stop = new AbortController();
    const watching = engine.watch({ signal: stop.signal });
    try {
      for (let round = 0; round < 3; round++) {
        await engine.spawn(`round-${round}`, { command: LONG_RUNNING });
        // Each round: attached while the group exists, within a few polls, never a minute.
        await waitFor(controlClientAttached, `the control client, round ${round}`, { timeoutMs: 5_000 });
        // The last session ends: the group session goes with its last window, and the client with it.
        await engine.end(`round-${round}`);
        await waitFor(async () => !(await controlClientAttached()), `the control client to go with the group, round ${round}`);
        expect(await server.tmux.run(['has-session', '-t', '=warden']).then(() => true, () => false)).toBe(false);
      }
    } finally {
      stop.abort();
      await watching;
    }
  });
});
