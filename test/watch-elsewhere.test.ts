/**
 * A watching engine hears what other processes do within its poll interval, even while tmux's
 * notifications have nothing to say: a CLI call's spawn is written after the window it makes
 * wakes the watcher, its end after the window it kills does, and a program that exits at once may
 * never fire pane-died. The safety net is set to a minute here, so only the interval can answer.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { TransitionEvent } from '../src/engine.js';
import { warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('watch-elsewhere');
const stop = new AbortController();
afterAll(() => stop.abort());

describe('watch: changes made by other processes', () => {
  it('hears a session spawned elsewhere exit at once, and its end elsewhere, within the interval', async () => {
    const cli = warden(server);
    // The group exists before the watch starts, so its control client attaches at once.
    expect((await cli.run(['spawn', 'first', '--', 'sleep', '600'])).exitCode).toBe(0);
    const engine = await server.engine({ stateFile: cli.stateFile });
    const heard: TransitionEvent[] = [];
    engine.subscribe((t) => heard.push(t));
    const watching = engine.watch({ intervalMs: 100, safetyIntervalMs: 60_000, signal: stop.signal });
    // `to` is a dotted state: `active.exited` is reached by `active.exited.stopped` too.
    const reached = (key: string, to: string) => heard.some((t) => t.key === key && (t.to === to || t.to.startsWith(`${to}.`)));

    expect((await cli.run(['spawn', 'quick', '--', 'sh', '-c', 'exit 3'])).exitCode).toBe(0);
    await waitFor(() => reached('quick', 'active.exited'), `quick heard exiting (heard: ${heard.map((t) => `${t.key} ${t.from}→${t.to}`).join(', ')})`);
    expect(engine.get('quick')?.exitStatus).toBe(3);

    expect((await cli.run(['end', 'first'])).exitCode).toBe(0);
    await waitFor(() => reached('first', 'normal'), `first heard ending (heard: ${heard.map((t) => `${t.key} ${t.from}→${t.to}`).join(', ')})`);
    expect(engine.get('first')).toBeUndefined();
    stop.abort();
    await watching;
  });
});
