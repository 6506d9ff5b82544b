/**
 * machines/ owns the statechart's knowledge: a variant machine with a throwaway substate inside
 * `active.running.busy` needs no edit outside machines/ to be persisted, rehydrated, reconciled, drawn
 * and named by a hook. (Before the re-architecture the engine's own list of states refused it.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMachine, fromPromise } from 'xstate';
import { isRunning, isStateValueOf, stateString, statePathsOf } from '../machines/paths.js';
import { sessionMachine, type SessionMachine } from '../machines/session.js';
import { machineGraph, toMermaid } from '../src/observe/graph.js';
import { hookFires } from '../src/hooks.js';
import type { TransitionEvent } from '../src/engine.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('variant');

/** The session machine with `active.running.busy` split into `thinking` (initial) and `typing`. */
function variantMachine(): SessionMachine {
  type Node = { states?: Record<string, Node> } & Record<string, unknown>;
  const config = sessionMachine.config as unknown as { states: Record<string, Node> };
  const active = config.states['active']!;
  const running = active.states!['running']!;
  const busy = running.states!['busy']!;
  const states = {
    ...config.states,
    active: {
      ...active,
      states: {
        ...active.states,
        running: { ...running, states: { ...running.states, busy: { ...busy, initial: 'thinking', states: { thinking: {}, typing: {} } } } },
      },
    },
  };
  return createMachine({ ...(sessionMachine.config as object), states } as never, sessionMachine.implementations as never) as unknown as SessionMachine;
}

/**
 * The session machine with `orphaned` split into `noting`, which invokes a service of its own
 * (`noteOrphan`, registered by name), and `noted`, where it rests once the service is done.
 */
function serviceVariant(note: (key: string) => Promise<void>): SessionMachine {
  type Node = Record<string, unknown>;
  const config = sessionMachine.config as unknown as { states: Record<string, Node> };
  const orphaned = {
    ...config.states['orphaned'],
    initial: 'noting',
    states: {
      noting: { invoke: { id: 'note', src: 'noteOrphan', input: ({ context }: { context: { key: string } }) => ({ key: context.key }), onDone: 'noted' } },
      noted: {},
    },
  };
  const implementations = sessionMachine.implementations as unknown as { actors: Record<string, unknown> };
  return createMachine({ ...(sessionMachine.config as object), states: { ...config.states, orphaned } } as never, {
    ...implementations,
    actors: { ...implementations.actors, noteOrphan: fromPromise<void, { key: string }>(({ input }) => note(input.key)) },
  } as never) as unknown as SessionMachine;
}

describe('a variant machine whose new state invokes a service', () => {
  it('is in flight there: the service runs in an actor, the record names its owner, reconcile waits for it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const noted: string[] = [];
    const variant = serviceVariant(async (key) => {
      noted.push(key);
      await gate;
    });
    const stateFile = server.stateFile();
    const engine = await server.engine({ stateFile, machine: variant });
    const info = await engine.spawn('noter', { command: ['sleep', '300'] });
    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    const record = () => JSON.parse(readFileSync(stateFile, 'utf8')).sessions.noter;
    let done = false;
    const reconciling = engine.reconcile().finally(() => (done = true));
    // Judged by the session machine, `orphaned.noting` would be at rest: stepped to without an
    // actor, written with no owner, its service never run and nothing ever moving it on.
    const noting = await waitFor(() => (stateString(record().snapshot.value) === 'orphaned.noting' ? record() : null), 'the record in orphaned.noting');
    expect(noting.owner).toMatchObject({ pid: process.pid });
    await waitFor(() => noted.length === 1, 'the service to run');
    expect(done).toBe(false);
    release();
    const result = await reconciling;
    expect(result.transitions.map((t) => t.to)).toEqual(['orphaned.noting', 'orphaned.noted']);
    expect(record()).toMatchObject({ snapshot: { value: { orphaned: 'noted' } }, owner: null });
    expect(noted).toEqual(['noter']);
    await engine.end('noter');
    await engine.close();
  });

  it('runs it for a record that names the state alone (written by the stock machine): resolved to its initial substate', async () => {
    const stateFile = server.stateFile();
    const stock = await server.engine({ stateFile });
    const info = await stock.spawn('old-orphan', { command: ['sleep', '300'] });
    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    await stock.reconcile();
    await stock.close();
    const record = () => JSON.parse(readFileSync(stateFile, 'utf8')).sessions['old-orphan'];
    expect(record().snapshot.value).toBe('orphaned');

    const noted: string[] = [];
    const engine = await server.engine({ stateFile, machine: serviceVariant(async (key) => void noted.push(key)) });
    expect(engine.snapshotProblems()).toEqual([]);
    await engine.reconcile();
    expect(noted).toEqual(['old-orphan']);
    expect(record()).toMatchObject({ snapshot: { value: { orphaned: 'noted' } }, owner: null });
    await engine.end('old-orphan');
    await engine.close();
  });
});

describe('a variant machine with a throwaway substate', () => {
  const variant = variantMachine();

  it('is drawn: its paths, graph and Mermaid come from the machine itself', () => {
    expect(statePathsOf(variant)).toContain('active.running.busy.thinking');
    expect(machineGraph(variant as never).states.map((s) => s.path)).toContain('active.running.busy.thinking');
    expect(toMermaid(machineGraph(variant as never))).toContain('thinking');
    // The original machine does not know the substate: the knowledge is derived, not listed.
    expect(isStateValueOf(sessionMachine, { active: { running: { busy: 'thinking' } } })).toBe(false);
    expect(isStateValueOf(variant, { active: { running: { busy: 'thinking' } } })).toBe(true);
  });

  it('persists, rehydrates and reconciles a session in it', async () => {
    const stateFile = server.stateFile();
    const seen: TransitionEvent[] = [];
    const first = await server.engine({ stateFile, machine: variant, onTransition: (e) => seen.push(e) });
    const info = await first.spawn('variant', { command: ['sleep', '300'] });
    expect(info.state).toBe('active');
    const stored = JSON.parse(readFileSync(stateFile, 'utf8')).sessions.variant.snapshot.value;
    expect(stored).toEqual({ active: { running: { busy: 'thinking' } } });
    expect(seen.map((e) => e.to)).toContain('active.running.busy.thinking');
    await first.close();

    const second = await server.engine({ stateFile, machine: variant });
    expect(second.snapshotProblems()).toEqual([]);
    expect(second.get('variant')?.state).toBe('active');
    expect(isRunning(stored)).toBe(true);
    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    const result = await second.reconcile();
    expect(result.transitions.map((t) => [t.from, t.to])).toEqual([['active.running.busy.thinking', 'orphaned']]);
    await second.end('variant');
    await second.close();
  });

  it('can be named by a hook', () => {
    const entered = { from: 'spawning', to: stateString({ active: { running: { busy: 'thinking' } } }) };
    expect(hookFires('active.running.busy.thinking', entered)).toBe(true);
    expect(hookFires('active.running', entered)).toBe(true);
    expect(hookFires('active.running.busy.typing', entered)).toBe(false);
  });
});
