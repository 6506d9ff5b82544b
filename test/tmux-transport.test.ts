/**
 * The transport seam: every tmux call of the commands goes through the one `TmuxTransport` they
 * were given, so a wrapper sees (and counts) each tmux process; a spawn and a probe cost one each.
 */
import { describe, expect, it } from 'vitest';
import { Tmux } from '../src/tmux/commands.js';
import { TmuxEvents, type ControlNotification } from '../src/tmux/control.js';
import { PANE_DIED_CHANNEL } from '../src/tmux/formats.js';
import { LocalTransport, TmuxError, type RunOptions, type TmuxTransport } from '../src/tmux/transport.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('transport');

/** A transport that records the argv of every tmux process, passing each to the real one. */
function recording(): { transport: TmuxTransport; runs: string[][] } {
  const local = new LocalTransport({ socket: { name: server.socket } });
  const runs: string[][] = [];
  const transport: TmuxTransport = {
    bin: local.bin,
    socket: local.socket,
    run: (args: string[], options: RunOptions) => {
      runs.push(args);
      return local.run(args, options);
    },
    open: (args) => {
      runs.push(args);
      return local.open(args);
    },
    commandLine: (args) => local.commandLine(args),
  };
  return { transport, runs };
}

describe('one spawn = one tmux process, one probe = one list-panes -a', () => {
  it('launches a tagged window and probes every pane through the injected transport', async () => {
    const { transport, runs } = recording();
    const tmux = new Tmux({ transport });
    await tmux.launchWindow({ group: 'seam', name: 'first', sessionId: 'sid-first', command: LONG_RUNNING });
    const before = runs.length;
    const ref = await tmux.launchWindow({ group: 'seam', name: 'second', sessionId: 'sid-second', command: LONG_RUNNING });
    expect(runs.length - before).toBe(1);
    expect(runs.at(-1)![0]).toBe('new-window');
    const probe = await tmux.probeAll();
    expect(runs.at(-1)!.slice(0, 2)).toEqual(['list-panes', '-a']);
    expect(probe.kind === 'ok' && probe.panes.find((p) => p.tag === 'sid-second')).toMatchObject({ windowId: ref.windowId, windowName: 'second' });
    expect(tmux.calls).toBe(runs.length);
  });

  it('keeps the attach argv on the transport: binary and socket first', () => {
    const tmux = new Tmux({ socket: { name: 'sock' }, bin: '/opt/tmux' });
    const argv = tmux.attachCommand('warden', '@5', false);
    expect(argv.slice(0, 3)).toEqual(['/opt/tmux', '-L', 'sock']);
    expect(argv.slice(3, 7)).toEqual(['new-session', '-d', '-t', '=warden:']);
    expect(argv.slice(-3)).toEqual(['attach-session', '-t', `=${argv[8]}:`]);
  });
});

describe('a call that gets no answer', () => {
  it('is a typed error: a missing binary is not-found, a hung one a timeout', async () => {
    const missing = new Tmux({ bin: '/nonexistent/tmux', socket: { name: server.socket } });
    await expect(missing.run(['-V'])).rejects.toMatchObject({ kind: 'not-found', code: 'TMUX_NOT_FOUND' });
    const hung = new Tmux({ transport: new LocalTransport({ bin: 'sleep' }), timeoutMs: 100 });
    await expect(hung.run(['5'])).rejects.toBeInstanceOf(TmuxError);
    await expect(hung.run(['5'])).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('a non-zero exit is an answer the commands read: a missing session', async () => {
    const { transport } = recording();
    const result = await transport.run(['has-session', '-t', '=no-such-session'], { timeoutMs: 5000 });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/can't find session/);
  });
});

describe('TmuxEvents: typed notifications beside the reasons to look', () => {
  // tmux 3.3a does not always fire pane-died (the watcher's process check covers that), so the
  // channel is signalled here the way the hook does it.
  it('hears a closed window with its id, and the pane-died channel', async () => {
    const tmux = server.tmux;
    await tmux.launchWindow({ group: 'heard', name: 'staying', sessionId: 'sid-staying', command: LONG_RUNNING });
    const ref = await tmux.launchWindow({ group: 'heard', name: 'closing', sessionId: 'sid-closing', command: LONG_RUNNING });
    const reasons: string[] = [];
    const heard: ControlNotification[] = [];
    const events = new TmuxEvents(tmux, 'heard', (reason) => reasons.push(reason));
    events.onNotification((n) => heard.push(n));
    try {
      expect(await events.connect()).toBe(true);
      expect(heard[0]).toMatchObject({ type: 'begin' });
      expect(heard[1]).toMatchObject({ type: 'end', number: (heard[0] as { number: number }).number });
      await tmux.run(['wait-for', '-S', PANE_DIED_CHANNEL]);
      await waitFor(() => heard.some((n) => n.type === 'pane-died'), 'the pane-died channel');
      await tmux.run(['kill-window', '-t', ref.windowId]);
      // tmux 3.3a may report a window of the client's own session as unlinked.
      const closed = await waitFor(
        () => heard.find((n) => n.type === 'window-close' || n.type === 'unlinked-window-close'),
        'the window-close',
      );
      expect(closed).toMatchObject({ windowId: ref.windowId });
      expect(reasons).toEqual(expect.arrayContaining(['pane-died', closed.type]));
    } finally {
      await events.close();
    }
    expect(heard.at(-1)?.type).not.toBe('detached');
  });
});
