/**
 * Activity (DESIGN: Activity) over a real tmux server, with fake agents (test/fixtures/fake-agent.mjs)
 * drawn like Claude Code and Codex: what a plain reconcile decides from the one probe and a capture
 * of quiet screens, what a watcher hears from tmux's output notifications, signals, wait, and
 * sending text so that a TUI takes it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StateDocumentSchema } from '../src/model/schema.js';
import type { Engine } from '../src/engine.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('activity');
const FAKE = fileURLToPath(new URL('./fixtures/fake-agent.mjs', import.meta.url));
/** A fake agent running `script`, working `workMs` before its first screen. */
const fake = (script: string, workMs = 300) => [process.execPath, FAKE, script, String(workMs)];

/** Reconciles until the session's activity is `activity`: what `warden ls` would show. */
async function settlesTo(engine: Engine, key: string, activity: string, what = `${key} ${activity}`) {
  return waitFor(async () => {
    await engine.reconcile();
    const info = engine.get(key);
    return info?.activity === activity ? info : null;
  }, what, { timeoutMs: 20_000, intervalMs: 100 });
}

function storedRev(engine: Engine, key: string): number {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(engine.stateFile, 'utf8'))).sessions[key]!.rev;
}

describe('activity from a plain reconcile: the probe, and a capture of quiet screens', () => {
  it('a session starts busy; a prompt box once quiet is waiting, decided by the pattern', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('boxed', { command: fake('prompt'), profile: 'claude' });
    expect(info).toMatchObject({ activity: 'busy', activitySource: 'silence' });
    const waiting = await settlesTo(engine, 'boxed', 'waiting');
    expect(waiting.activitySource).toBe('pattern');
    expect(engine.explainActivity('boxed')).toMatchObject({ profile: 'claude', source: 'pattern', matched: expect.stringMatching(/^│ >/) });
  });

  it('a permission question is waiting', async () => {
    const engine = await server.engine();
    await engine.spawn('asking', { command: fake('permission'), profile: 'claude' });
    await settlesTo(engine, 'asking', 'waiting');
    expect(engine.explainActivity('asking')?.matched).toMatch(/Yes|Do you want to proceed/);
  });

  it('an error banner is idle, never waiting, though a prompt box shows below it', async () => {
    const engine = await server.engine();
    await engine.spawn('failing', { command: fake('error'), profile: 'claude' });
    const idle = await settlesTo(engine, 'failing', 'idle');
    expect(idle.activitySource).toBe('pattern');
    expect(engine.explainActivity('failing')?.matched).toContain('API Error');
  });

  it('quiet with nothing the profile knows on screen is idle by silence', async () => {
    const engine = await server.engine();
    await engine.spawn('hushed', { command: fake('quiet'), profile: 'claude' });
    const idle = await settlesTo(engine, 'hushed', 'idle');
    expect(idle.activitySource).toBe('silence');
  });

  it('a command no profile fits falls back to silence: quiet is idle, nothing is read', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('plain', { command: LONG_RUNNING });
    expect(info.activity).toBe('busy');
    await settlesTo(engine, 'plain', 'idle');
    expect(engine.explainActivity('plain')).toMatchObject({ profile: null, source: 'silence', matched: null });
  });

  it('continuous output stays busy: no false idle across several quiet periods', async () => {
    const engine = await server.engine({ profiles: { streamer: { commands: ['never-matches'], quietMs: 300 } } });
    await engine.spawn('firehose', { command: fake('stream'), profile: 'streamer' });
    const seen = new Set<string>();
    const until = Date.now() + 2000;
    // Looked at again and again over more than six quiet periods.
    while (Date.now() < until) {
      await engine.reconcile();
      seen.add(engine.get('firehose')!.activity!);
    }
    expect([...seen]).toEqual(['busy']);
  });

  it('a spinner paused on screen stays busy (a busy pattern), though no output came', async () => {
    const engine = await server.engine({ profiles: { slow: { commands: [], quietMs: 200, busy: ['esc to interrupt'] } } });
    await engine.spawn('paused', { command: [...fake('spinner'), ''], profile: 'slow' });
    // SIGSTOP: the spinner stops where it is, "esc to interrupt" on screen, and prints nothing.
    const pid = engine.get('paused')!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      const lastOutput = Date.now();
      await waitFor(async () => {
        await engine.reconcile();
        return Date.now() - lastOutput > 2500;
      }, 'quiet periods to pass');
      expect(engine.get('paused')!.activity).toBe('busy');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('is persisted on change only: output while busy writes nothing', async () => {
    const engine = await server.engine();
    await engine.spawn('chatty', { command: fake('stream'), profile: 'claude' });
    const rev = storedRev(engine, 'chatty');
    for (let i = 0; i < 10; i++) await engine.reconcile();
    expect(storedRev(engine, 'chatty')).toBe(rev);
  });
});

describe('signals: the agent’s own hook, the highest-confidence source', () => {
  it('a busy signal beats the prompt box pattern until output says otherwise', async () => {
    const engine = await server.engine();
    await engine.spawn('hooked', { command: fake('prompt', 200), profile: 'claude' });
    await settlesTo(engine, 'hooked', 'waiting');
    const signalled = await engine.signal('hooked', 'busy');
    expect(signalled).toMatchObject({ activity: 'busy', activitySource: 'signal' });
    // Quiet for well over the quiet period, the prompt box still on screen: still busy.
    const since = Date.parse(signalled.activitySince!);
    await waitFor(async () => {
      await engine.reconcile();
      return Date.now() > since + 1500 + 1500;
    }, 'the quiet period to pass');
    expect(engine.get('hooked')).toMatchObject({ activity: 'busy', activitySource: 'signal' });
    expect(engine.explainActivity('hooked')).toMatchObject({ source: 'signal', matched: 'warden signal busy' });
    // Output after the signal: the screen decides again.
    await engine.send('hooked', 'go on');
    await settlesTo(engine, 'hooked', 'waiting');
    expect(engine.get('hooked')!.activitySource).toBe('pattern');
  });

  it('a waiting signal is taken at once, and the same signal again writes nothing', async () => {
    const engine = await server.engine();
    await engine.spawn('told', { command: LONG_RUNNING });
    const waiting = await engine.signal('told', 'waiting');
    expect(waiting).toMatchObject({ activity: 'waiting', activitySource: 'signal' });
    const rev = storedRev(engine, 'told');
    await engine.signal('told', 'waiting');
    expect(storedRev(engine, 'told')).toBe(rev);
  });

  it('is refused for a session that is not running', async () => {
    const engine = await server.engine();
    await engine.spawn('gone', { command: ['sh', '-c', 'exit 0'] });
    await waitFor(async () => {
      await engine.reconcile();
      return engine.get('gone')?.exitStatus === 0;
    }, 'the exit');
    await expect(engine.signal('gone', 'idle')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(engine.signal('nobody', 'idle')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.signal('gone', 'asleep' as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('resumed and rehydrated sessions start busy', () => {
  it('a session resumed after its program exited starts busy, then settles again', async () => {
    const engine = await server.engine();
    await engine.spawn('again', { command: ['sh', '-c', 'exit 4'], resumeCommand: `${process.execPath} ${FAKE} prompt 200`, profile: 'claude' });
    await waitFor(async () => {
      await engine.reconcile();
      return engine.get('again')?.exitStatus === 4;
    }, 'the exit');
    expect(engine.get('again')!.activity).toBeNull();
    const resumed = await engine.spawn('again', { mode: 'resume' });
    expect(resumed).toMatchObject({ activity: 'busy', activitySource: 'silence' });
    await settlesTo(engine, 'again', 'waiting');
  });

  it('a record written before activity existed ({active: running}) rehydrates busy', async () => {
    const stateFile = server.stateFile();
    const made = await server.tmux.launchWindow({ group: 'warden', name: 'old', sessionId: 'old-id', command: LONG_RUNNING });
    const snapshot = await persistedIn('active.running', 'old', spec(LONG_RUNNING), 'old-id', { ...made, dead: false, exitStatus: null });
    const { activity: _, ...context } = snapshot.context;
    await writeRecord(stateFile, 'old', { ...snapshot, value: { active: 'running' }, context }, null);
    const engine = await server.engine({ stateFile });
    expect(engine.snapshotProblems()).toEqual([]);
    expect(engine.get('old')).toMatchObject({ state: 'active', activity: 'busy', activitySource: 'silence' });
    await settlesTo(engine, 'old', 'idle');
  });
});

describe('watch hears activity from tmux: output notifications and quiet deadlines, no polling loop', () => {
  it('waiting → busy on output, busy → waiting once quiet, and wait() returns as soon as it is reached', async () => {
    const engine = await server.engine();
    await engine.spawn('live', { command: fake('prompt', 400), profile: 'claude' });
    const ready = await engine.wait('live', ['waiting'], { timeoutMs: 20_000 });
    expect(ready).toMatchObject({ reached: true, session: { activity: 'waiting' } });
    const seen: string[] = [];
    engine.subscribe((t) => {
      if (t.key === 'live') seen.push(`${t.from}→${t.to}`);
    });
    const stop = new AbortController();
    const watching = engine.watch({ signal: stop.signal });
    try {
      await engine.send('live', 'write the tests');
      await waitFor(() => seen.includes('active.running.waiting→active.running.busy'), 'busy heard from the output');
      await waitFor(() => seen.includes('active.running.busy→active.running.waiting'), 'waiting once quiet');
    } finally {
      stop.abort();
      await watching;
    }
  });

  it('wait() gives up after its timeout with the state it was in', async () => {
    const engine = await server.engine();
    await engine.spawn('stuck', { command: fake('stream'), profile: 'claude' });
    const result = await engine.wait('stuck', ['idle', 'exited'], { timeoutMs: 500 });
    expect(result).toMatchObject({ reached: false, session: { activity: 'busy' } });
    await expect(engine.wait('stuck', ['asleep'])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await engine.wait('nobody-here', ['ended'])).toMatchObject({ reached: true, session: null });
  });
});

describe('send to a TUI: bracketed paste, Enter after the profile’s delay, checked on the screen', () => {
  it('Codex reads an Enter within 120 ms of text as a newline: send waits, and the text is submitted', async () => {
    const engine = await server.engine();
    await engine.spawn('codex', { command: fake('codex', 100), profile: 'codex' });
    await settlesTo(engine, 'codex', 'waiting');
    const result = await engine.send('codex', 'fix the flaky test');
    expect(result.submitted).toBe(true);
    const screen = await engine.capture('codex');
    // One submitted line, not the text with a newline after it.
    expect(screen).toMatch(/^> fix the flaky test$/m);
  });

  it('a multi-line text arrives as one paste: its newlines are text, one Enter submits it', async () => {
    const engine = await server.engine();
    await engine.spawn('multi', { command: fake('codex', 100), profile: 'codex' });
    await settlesTo(engine, 'multi', 'waiting');
    expect((await engine.send('multi', 'first line\nsecond line')).submitted).toBe(true);
    expect(await engine.capture('multi')).toContain('> first line ⏎ second line');
  });

  it('says so when the text was not taken (still in the input line after a second Enter)', async () => {
    const engine = await server.engine();
    await engine.spawn('deaf', { command: fake('deaf', 100), profile: 'codex' });
    await settlesTo(engine, 'deaf', 'waiting');
    expect((await engine.send('deaf', 'hello?')).submitted).toBe(false);
  });

  it('--wait-ready waits until the agent is idle or waiting before typing', async () => {
    const engine = await server.engine();
    await engine.spawn('eager', { command: fake('codex', 2500), profile: 'codex' });
    const result = await engine.send('eager', 'only once ready', { waitReadyMs: 20_000 });
    expect(result.submitted).toBe(true);
    expect(await engine.capture('eager')).toContain('> only once ready');
  });
});
