/**
 * The session statechart over a real tmux server: one describe per row of the DESIGN table and
 * per invariant, each asserting what tmux and the state file really show.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sessionMachine } from '../machines/session.js';
import { LocalTransport, type TmuxTransport } from '../src/tmux/transport.js';
import { createEngine, type TransitionEvent } from '../src/engine.js';
import { WardenError } from '../src/model/errors.js';
import { StateDocumentSchema } from '../src/model/schema.js';
import { tmuxFailingAfterLaunch, tmuxHangingProbe, tmuxWithFaultSwitch } from './support/fault-tmux.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('engine');
/** A second isolated server, for the test that kills its server. */
const lonely = useTmuxServer('engine-kill');
/** A server that outlives its last session, as one with a control client attached does. */
const emptied = useTmuxServer('engine-empty');
const { tmux } = server;

function readState(file: string) {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

async function paneOf(windowId: string) {
  const probe = await tmux.probeAll();
  if (probe.kind !== 'ok') return undefined;
  return probe.panes.find((p) => p.windowId === windowId);
}

describe('normal → spawning → active.running (SPAWN normal)', () => {
  it('creates one window named by the key, tagged with a fresh session id, and persists it', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('api-fix', { command: LONG_RUNNING, labels: { ticket: 'T-1' } });
    expect(info.state).toBe('active');
    expect(info.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const pane = await paneOf(info.windowId!);
    expect(pane).toMatchObject({ windowName: 'api-fix', tag: info.sessionId, sessionName: 'warden', dead: false });
    expect(pane!.pid).toBe(info.pid);
    const record = readState(engine.stateFile).sessions['api-fix']!;
    expect(record.snapshot.value).toEqual({ active: { running: 'busy' } });
    expect(record.snapshot.context.spec?.labels).toEqual({ ticket: 'T-1' });
  });

  it('substitutes {sessionId} and {key} in the command and exports them to the program', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('subst', {
      command: ['sh', '-c', 'echo "arg={sessionId}/{key} env=$WARDEN_SESSION_ID/$WARDEN_KEY"; sleep 600'],
    });
    const screen = await waitFor(async () => {
      const text = await engine.capture('subst');
      return text.includes('arg=') ? text : null;
    }, 'the program output');
    expect(screen).toContain(`arg=${info.sessionId}/subst env=${info.sessionId}/subst`);
  });
});

describe('spawning → normal on a tmux error (rollback)', () => {
  it('kills the window carrying our tag, keeps the error as plain data, removes the record', async () => {
    const bin = tmuxFailingAfterLaunch(server.dir);
    const engine = await server.engine({ tmuxBin: bin });
    const error = await engine.spawn('doomed', { command: LONG_RUNNING }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WardenError);
    expect((error as WardenError).code).toBe('SPAWN_FAILED');
    expect((error as WardenError).message).toContain('injected failure');
    const probe = await tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.some((p) => p.windowName === 'doomed')).toBe(false);
    const document = readState(engine.stateFile);
    expect(document.sessions.doomed).toBeUndefined();
    const entry = document.history.find((h) => h.key === 'doomed')!;
    expect(entry.reason).toBe('spawn-failed');
    // Invariant 6: the error is plain data, exactly as JSON round-trips it.
    expect(entry.error).toEqual({ code: 'TMUX_FAILED', message: expect.stringContaining('injected failure'), stderr: expect.any(String) });
    expect(await ownedWindows(tmux, entry.sessionId)).toEqual([]);
  });
});

describe('active → orphaned (probe: window gone)', () => {
  it('orphans a session whose window was killed behind the engine', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('victim', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    const result = await engine.reconcile();
    expect(result.transitions.map((t) => [t.key, t.from, t.to, t.event])).toEqual([
      ['victim', 'active.running.busy', 'orphaned', 'WINDOW_GONE'],
    ]);
    expect(engine.get('victim')).toMatchObject({ state: 'orphaned', sessionId: info.sessionId, windowId: null });
    expect(readState(engine.stateFile).sessions.victim!.snapshot.value).toBe('orphaned');
  });
});

describe('active.running → active.exited (probe: pane dead)', () => {
  it('keeps the exit status of a program that exited', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('quitter', { command: ['sh', '-c', 'read x; exit 7'] });
    await engine.send('quitter', 'go');
    const exited = await waitFor(async () => {
      await engine.reconcile();
      return engine.get('quitter')?.exitStatus !== null ? engine.get('quitter') : null;
    }, 'the pane to exit');
    expect(exited).toMatchObject({ state: 'active', exitStatus: 7, windowId: info.windowId });
    expect(readState(engine.stateFile).sessions.quitter!.snapshot.value).toEqual({ active: { exited: 'stopped' } });
    expect((await paneOf(info.windowId!))?.dead).toBe(true);
  });
});

describe('active.running → active.exited when the program is killed by a signal', () => {
  it('records 128 + the signal, as a shell reports it', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('signalled', { command: LONG_RUNNING });
    process.kill(info.pid!, 'SIGTERM');
    const exited = await waitFor(async () => {
      await engine.reconcile();
      return engine.get('signalled')?.exitStatus !== null ? engine.get('signalled') : null;
    }, 'the pane to die');
    expect(exited).toMatchObject({ state: 'active', exitStatus: 143 });
  });
});

describe('active SPAWN resume (attach: no-op)', () => {
  it('returns the running session unchanged, with no second window', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('steady', { command: LONG_RUNNING });
    const again = await engine.spawn('steady', { mode: 'resume' });
    expect(again).toMatchObject({ sessionId: first.sessionId, windowId: first.windowId, state: 'active' });
    expect(await ownedWindows(tmux, first.sessionId!)).toEqual([first.windowId]);
  });
});

describe('active SPAWN fresh (ending → spawning)', () => {
  it('ends the old session id and mints a new one in a new window', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('redo', { command: LONG_RUNNING });
    const events: TransitionEvent[] = [];
    engine.subscribe((e) => events.push(e));
    const second = await engine.spawn('redo', { mode: 'fresh', command: LONG_RUNNING });
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(await ownedWindows(tmux, first.sessionId!)).toEqual([]);
    expect(await ownedWindows(tmux, second.sessionId!)).toEqual([second.windowId]);
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual(['active.running.busy→ending', 'ending→spawning', 'spawning→active.running.busy']);
    const history = await engine.history('redo');
    expect(history).toMatchObject([{ sessionId: first.sessionId, reason: 'replaced' }]);
  });
});

describe('active.exited SPAWN resume (respawn-pane, same session id)', () => {
  it('restarts the program in the same window with the same id', async () => {
    const engine = await server.engine();
    const first = await engine.spawn('phoenix', { command: ['sh', '-c', 'exit 3'] });
    await waitFor(async () => {
      await engine.reconcile();
      return engine.get('phoenix')?.exitStatus === 3;
    }, 'exit status 3');
    const resumed = await engine.spawn('phoenix', { mode: 'resume', resumeCommand: 'sleep 600' });
    expect(resumed).toMatchObject({ state: 'active', sessionId: first.sessionId, windowId: first.windowId, exitStatus: null });
    const pane = await paneOf(first.windowId!);
    expect(pane).toMatchObject({ dead: false, tag: first.sessionId });
    await engine.reconcile();
    expect(engine.get('phoenix')?.exitStatus).toBeNull();
  });
});

describe('orphaned → active (probe: tagged window back, adopt)', () => {
  it('adopts a window carrying the session id, as after tmux-resurrect', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('lazarus', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    expect(engine.get('lazarus')?.state).toBe('orphaned');
    const back = await tmux.launchWindow({ group: 'elsewhere', name: 'restored', sessionId: info.sessionId!, command: LONG_RUNNING });
    const result = await engine.reconcile();
    expect(result.transitions.map((t) => [t.from, t.to])).toEqual([['orphaned', 'active.running.busy']]);
    expect(engine.get('lazarus')).toMatchObject({ state: 'active', windowId: back.windowId, paneId: back.paneId });
  });
});

describe('orphaned SPAWN resume (relaunch with the resume command, same id)', () => {
  it('relaunches in a new window with the resume command, substituted', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('agent', {
      command: LONG_RUNNING,
      resumeCommand: "sh -c 'echo resumed {sessionId} {key}; sleep 600'",
    });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    const resumed = await engine.spawn('agent', { mode: 'resume' });
    expect(resumed.sessionId).toBe(info.sessionId);
    expect(resumed.windowId).not.toBe(info.windowId);
    const screen = await waitFor(async () => {
      const text = await engine.capture('agent');
      return text.includes('resumed') ? text : null;
    }, 'the resume command output');
    expect(screen).toContain(`resumed ${info.sessionId} agent`);
  });
});

describe('orphaned SPAWN fresh (ending → spawning)', () => {
  it('starts a new session id; the orphan goes to history', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('reborn', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    const fresh = await engine.spawn('reborn', { mode: 'fresh', command: LONG_RUNNING });
    expect(fresh.sessionId).not.toBe(info.sessionId);
    expect(await ownedWindows(tmux, fresh.sessionId!)).toEqual([fresh.windowId]);
    expect(await engine.history('reborn')).toMatchObject([{ sessionId: info.sessionId, reason: 'replaced' }]);
  });
});

describe('active / orphaned END → ending → normal', () => {
  it('kills the window, removes the record and keeps a history entry', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('done-active', { command: LONG_RUNNING });
    const ended = await engine.end('done-active');
    expect(ended).toMatchObject({ key: 'done-active', state: 'normal', sessionId: info.sessionId });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
    const document = readState(engine.stateFile);
    expect(document.sessions['done-active']).toBeUndefined();
    expect(document.history).toMatchObject([{ key: 'done-active', sessionId: info.sessionId, reason: 'ended' }]);
  });

  it('ends an orphaned session', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('done-orphan', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    await engine.end('done-orphan');
    expect(engine.get('done-orphan')).toBeUndefined();
    expect(await engine.history('done-orphan')).toHaveLength(1);
  });
});

describe('refusals: SPAWN normal on a live key, SPAWN resume on normal', () => {
  it('refuses with a conflict or not-found and writes nothing', async () => {
    const engine = await server.engine();
    await engine.spawn('taken', { command: LONG_RUNNING });
    const before = readFileSync(engine.stateFile);
    const conflict = await engine.spawn('taken', { command: LONG_RUNNING }).catch((e: WardenError) => e);
    expect(conflict).toMatchObject({ code: 'CONFLICT', exitCode: 3 });
    expect((conflict as WardenError).message).toBe('taken is active: use --mode ensure to keep it running, --mode resume to relaunch it or --mode fresh to restart it');
    const missing = await engine.spawn('nobody', { mode: 'resume' }).catch((e: WardenError) => e);
    expect(missing).toMatchObject({ code: 'NOT_FOUND', exitCode: 4 });
    const noEnd = await engine.end('nobody').catch((e: WardenError) => e);
    expect(noEnd).toMatchObject({ code: 'NOT_FOUND' });
    expect(readFileSync(engine.stateFile)).toEqual(before);
  });

  it('rejects bad keys and bad input with nothing written', async () => {
    const stateFile = server.stateFile();
    const engine = await createEngine({ stateFile, socket: server.socket });
    for (const key of ['', 'a:b', 'a.b', 'a=b', 'with space', '-dash', 'x'.repeat(65), 'tab\there']) {
      await expect(engine.spawn(key, { command: LONG_RUNNING })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    await expect(engine.spawn('ok', { command: [] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(engine.spawn('ok', { command: LONG_RUNNING, cwd: '/no/such/dir' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(engine.spawn('ok', { command: LONG_RUNNING, env: { 'BAD NAME': 'x' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(engine.spawn('ok', { command: LONG_RUNNING, mode: 'sideways' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(existsSync(stateFile)).toBe(false);
    await engine.close();
  });
});

describe('invariant 1: ownership guard', () => {
  it('never touches a user window with the same name, in the group or elsewhere', async () => {
    const engine = await server.engine();
    const info = await engine.spawn('mine', { command: LONG_RUNNING });
    await tmux.run(['new-window', '-d', '-t', '=warden:', '-n', 'mine', 'sleep 600']);
    await tmux.run(['new-session', '-d', '-s', 'user-own', '-n', 'mine', 'sleep 600']);
    await engine.end('mine');
    const probe = await tmux.probeAll();
    const survivors = probe.kind === 'ok' ? probe.panes.filter((p) => p.windowName === 'mine') : [];
    expect(survivors).toHaveLength(2);
    expect(survivors.every((p) => p.tag === '')).toBe(true);
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
  });
});

describe('invariant 2: no double spawn', () => {
  it('adopts the window of a spawning snapshot whose window already exists', async () => {
    const stateFile = server.stateFile();
    const sessionId = randomUUID();
    await writeRecord(stateFile, 'crashed', await persistedIn('spawning', 'crashed', spec(LONG_RUNNING), sessionId));
    // The killed process had already created its window.
    const made = await tmux.launchWindow({ group: 'warden', name: 'crashed', sessionId, command: LONG_RUNNING });
    const engine = await server.engine({ stateFile });
    await engine.settle();
    expect(engine.get('crashed')).toMatchObject({ state: 'active', sessionId, windowId: made.windowId });
    expect(await ownedWindows(tmux, sessionId)).toEqual([made.windowId]);
  });

  it('creates the window exactly once when the spawning snapshot had none yet', async () => {
    const stateFile = server.stateFile();
    const sessionId = randomUUID();
    await writeRecord(stateFile, 'early', await persistedIn('spawning', 'early', spec(LONG_RUNNING), sessionId));
    const engine = await server.engine({ stateFile });
    await engine.settle();
    const info = engine.get('early')!;
    expect(info).toMatchObject({ state: 'active', sessionId });
    expect(await ownedWindows(tmux, sessionId)).toEqual([info.windowId]);
    // A second engine on the same file does not launch it again.
    const again = await createEngine({ stateFile, socket: server.socket });
    await again.settle();
    expect(await ownedWindows(tmux, sessionId)).toEqual([info.windowId]);
    await again.close();
  });
});

describe('invariant 3: three-valued probes', () => {
  it('a probe that times out is unknown and leaves active sessions alone', async () => {
    const stateFile = server.stateFile();
    const engine = await server.engine({ stateFile });
    const info = await engine.spawn('patient', { command: LONG_RUNNING });
    await engine.close();
    const hung = await createEngine({ stateFile, socket: server.socket, tmuxBin: tmuxHangingProbe(server.dir), probeTimeoutMs: 300 });
    const result = await hung.reconcile();
    expect(result.probe).toBe('unknown');
    expect(result.transitions).toEqual([]);
    expect(hung.get('patient')?.state).toBe('active');
    expect(readState(stateFile).sessions.patient!.snapshot.value).toEqual({ active: { running: 'busy' } });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
    await hung.close();
  });

  it('no server running is a real answer: every session is orphaned', async () => {
    const engine = await createEngine({ stateFile: server.stateFile(), socket: lonely.socket });
    await engine.spawn('one', { command: LONG_RUNNING });
    await engine.spawn('two', { command: LONG_RUNNING });
    await lonely.tmux.killServer();
    const result = await engine.reconcile();
    expect(result.probe).toBe('no-server');
    expect(engine.list().map((s) => s.state)).toEqual(['orphaned', 'orphaned']);
    await engine.close();
  });
});

describe('invariant 3: a server with no session left', () => {
  it('is a real answer with no windows: the session is orphaned, and the next spawn recreates the group', async () => {
    const engine = await createEngine({ stateFile: server.stateFile(), socket: emptied.socket });
    const info = await engine.spawn('last', { command: LONG_RUNNING });
    await emptied.tmux.run(['set-option', '-s', 'exit-empty', 'off']);
    await emptied.tmux.run(['kill-window', '-t', info.windowId!]);
    const result = await engine.reconcile();
    expect(result.probe).toBe('ok');
    expect(engine.get('last')?.state).toBe('orphaned');
    const next = await engine.spawn('next', { command: LONG_RUNNING });
    expect(await ownedWindows(emptied.tmux, next.sessionId!)).toEqual([next.windowId]);
    await engine.close();
  });
});

describe('invariant 4: crash anywhere is recoverable', () => {
  it('the spawning record is durable before the window exists', async () => {
    const stateFile = server.stateFile();
    const seen: string[] = [];
    // A transport that looks at the state file whenever tmux is asked to create a window.
    const local = new LocalTransport({ socket: { name: server.socket } });
    const transport: TmuxTransport = {
      bin: local.bin,
      socket: local.socket,
      run: (args, options) => {
        if (args.includes('new-window') || args.includes('new-session')) {
          seen.push(JSON.stringify(readState(stateFile).sessions['durable']?.snapshot.value));
        }
        return local.run(args, options);
      },
      open: (args) => local.open(args),
      commandLine: (args) => local.commandLine(args),
    };
    const engine = await server.engine({ stateFile, transport });
    await engine.spawn('durable', { command: LONG_RUNNING });
    expect(seen).toEqual(['"spawning"']);
  });

  it('a process killed in ending: the cleanup finishes on reopen', async () => {
    const stateFile = server.stateFile();
    const sessionId = randomUUID();
    const made = await tmux.launchWindow({ group: 'warden', name: 'halfway', sessionId, command: LONG_RUNNING });
    const window = { ...made, dead: false, exitStatus: null };
    await writeRecord(stateFile, 'halfway', await persistedIn('ending', 'halfway', spec(LONG_RUNNING), sessionId, window));
    const engine = await server.engine({ stateFile });
    await engine.settle();
    expect(engine.get('halfway')).toBeUndefined();
    expect(await ownedWindows(tmux, sessionId)).toEqual([]);
    expect(readState(stateFile).history).toMatchObject([{ key: 'halfway', sessionId, reason: 'ended' }]);
  });
});

describe('invariant 5: persist before report', () => {
  it('a subscriber reads the new state from the file when it hears of it', async () => {
    const engine = await server.engine();
    const fileSaw: string[] = [];
    engine.subscribe((event) => {
      const record = readState(engine.stateFile).sessions[event.key];
      fileSaw.push(`${event.to}:${record ? JSON.stringify(record.snapshot.value) : 'removed'}`);
    });
    const info = await engine.spawn('told', { command: LONG_RUNNING });
    await tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    await engine.end('told');
    expect(fileSaw).toEqual([
      'spawning:"spawning"',
      'active.running.busy:{"active":{"running":"busy"}}',
      'orphaned:"orphaned"',
      'ending:"ending"',
      'normal:removed',
    ]);
  });
});

describe('invariant 7: no timers in the machine', () => {
  it('no state of the machine has an after delay', () => {
    const delayed: string[] = [];
    const visit = (node: { id: string; after: unknown[]; states: Record<string, unknown> }) => {
      if (node.after.length) delayed.push(node.id);
      for (const child of Object.values(node.states)) visit(child as typeof node);
    };
    visit(sessionMachine.root as never);
    expect(delayed).toEqual([]);
  });
});

describe('rehydration of every state in a new engine on the same file', () => {
  it('brings back active, exited and orphaned sessions as tmux shows them', async () => {
    const stateFile = server.stateFile();
    const first = await createEngine({ stateFile, socket: server.socket, group: 'rehydrate' });
    await first.spawn('r-running', { command: LONG_RUNNING });
    await first.spawn('r-exited', { command: ['sh', '-c', 'exit 4'] });
    const doomed = await first.spawn('r-orphan', { command: LONG_RUNNING });
    await waitFor(async () => {
      await first.reconcile();
      return first.get('r-exited')?.exitStatus === 4;
    }, 'r-exited to exit');
    await first.close();
    // Killed while no engine was running: the new one must notice.
    await tmux.run(['kill-window', '-t', doomed.windowId!]);
    const second = await createEngine({ stateFile, socket: server.socket });
    expect(second.list().map((s) => [s.key, s.state, s.exitStatus])).toEqual([
      ['r-exited', 'active', 4],
      ['r-orphan', 'orphaned', null],
      ['r-running', 'active', null],
    ]);
    await second.close();
  });

  it('reports an unknown state value or an error snapshot without crashing, and keeps the file', async () => {
    const stateFile = server.stateFile();
    const good = await createEngine({ stateFile, socket: server.socket });
    await good.spawn('healthy', { command: LONG_RUNNING });
    await good.close();
    const document = JSON.parse(readFileSync(stateFile, 'utf8'));
    const template = document.sessions.healthy;
    document.sessions.weird = structuredClone(template);
    document.sessions.weird.snapshot.value = 'levitating';
    document.sessions.weird.snapshot.context.key = 'weird';
    document.sessions.broken = structuredClone(template);
    document.sessions.broken.snapshot.status = 'error';
    document.sessions.broken.snapshot.context.key = 'broken';
    writeFileSync(stateFile, JSON.stringify(document));
    const bytes = readFileSync(stateFile);
    const engine = await createEngine({ stateFile, socket: server.socket });
    expect(engine.snapshotProblems().map((p) => p.key).sort()).toEqual(['broken', 'weird']);
    expect(engine.list().map((s) => s.key)).toEqual(['healthy']);
    await expect(engine.spawn('weird', { mode: 'resume' })).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID' });
    expect(readFileSync(stateFile)).toEqual(bytes);
    await engine.close();
  });
});

describe('two engines on two files in one process', () => {
  it('keep their sessions apart', async () => {
    const a = await createEngine({ stateFile: join(server.dir, 'a.json'), socket: server.socket, group: 'team-a' });
    const b = await createEngine({ stateFile: join(server.dir, 'b.json'), socket: server.socket, group: 'team-b' });
    const ia = await a.spawn('same-key', { command: LONG_RUNNING });
    const ib = await b.spawn('same-key', { command: LONG_RUNNING });
    expect(ia.sessionId).not.toBe(ib.sessionId);
    expect(ia.group).toBe('team-a');
    expect(ib.group).toBe('team-b');
    await a.end('same-key');
    await b.reconcile();
    expect(b.get('same-key')).toMatchObject({ state: 'active', sessionId: ib.sessionId });
    expect(a.get('same-key')).toBeUndefined();
    await a.close();
    await b.close();
  });
});

describe('active → ending → spawning (SPAWN fresh) when the old window cannot be cleaned up', () => {
  it('spawn fails at once with the record kept ending; a retry goes on with the queued restart', async () => {
    const faults = tmuxWithFaultSwitch(server.dir);
    const engine = await server.engine({ tmuxBin: faults.bin });
    const old = await engine.spawn('stuck-fresh', { command: LONG_RUNNING });
    faults.fail('list-panes');
    try {
      await expect(engine.spawn('stuck-fresh', { mode: 'fresh' })).rejects.toMatchObject({ code: 'TMUX_FAILED' });
    } finally {
      faults.heal();
    }
    const record = readState(engine.stateFile).sessions['stuck-fresh']!;
    expect(record.snapshot.value).toBe('ending');
    expect(record.snapshot.context.error).toMatchObject({ message: expect.stringContaining('injected') });
    const queued = record.snapshot.context.next!.sessionId;
    expect(await ownedWindows(tmux, old.sessionId!)).toHaveLength(1);

    // `end` retries the cleanup, but the machine then starts the queued session: said, not hidden.
    await expect(engine.end('stuck-fresh')).rejects.toMatchObject({ code: 'CONFLICT' });
    await engine.settle();
    expect(engine.get('stuck-fresh')).toMatchObject({ state: 'active', sessionId: queued });
    expect(await ownedWindows(tmux, old.sessionId!)).toEqual([]);
    expect(await ownedWindows(tmux, queued)).toHaveLength(1);
  });
});
