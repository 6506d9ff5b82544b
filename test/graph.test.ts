/**
 * `warden graph` and docs/state-machine.md: the pictures are derived from the machine definition,
 * so they change when the machine does, and the committed diagram is never stale.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createActor, createMachine, fromPromise, setup, type AnyStateMachine } from 'xstate';
import { getStateNodes } from 'xstate/graph';
import { describe, expect, it } from 'vitest';
import { SESSION_STATE_PATHS } from '../machines/paths.js';
import { sessionMachine } from '../machines/session.js';
import { machineGraph, renderGraph, toDefinition, toDot, toMermaid } from '../src/observe/graph.js';
import { regenerate } from '../scripts/docs.js';
import { waitFor } from './support/tmux-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/src/cli.js`;

/** Every transition definition of a machine, counted straight from its state nodes. */
function definedTransitions(machine: AnyStateMachine): number {
  return getStateNodes(machine.root).reduce((n, node) => n + [...node.transitions.values(), node.always ?? []].flat().length, 0);
}

describe('docs/state-machine.md', () => {
  it('holds the diagram and transition table generated from the machine (run `npm run docs` when this fails)', () => {
    const committed = readFileSync(`${root}docs/state-machine.md`, 'utf8');
    expect(regenerate(committed)).toBe(committed);
  });

  it('shows every transition of the machine as one diagram edge and one table row', () => {
    const committed = readFileSync(`${root}docs/state-machine.md`, 'utf8');
    const total = definedTransitions(sessionMachine);
    expect(committed.match(/^ {2}\S+ --> \S+ : /gm)?.length).toBe(total);
    const tableRows = committed.split('<!-- generated:transitions -->')[1]!.split('<!-- /generated')[0]!;
    expect(tableRows.match(/^\| (?!from|---)/gm)?.length).toBe(total);
  });
});

describe('graph derived from the machine (xstate/graph)', () => {
  it('lists every state and substate, the services they invoke, and every transition with its guard', () => {
    const graph = machineGraph();
    expect(graph.initial).toBe('normal');
    // The list the engine and the hooks derive theirs from is the machine's own.
    expect(graph.states.map((s) => s.path)).toEqual([...SESSION_STATE_PATHS]);
    expect(graph.states.find((s) => s.path === 'active')).toMatchObject({ initial: 'active.running', children: ['active.running', 'active.exited'] });
    expect(graph.states.find((s) => s.path === 'spawning')!.invokes).toEqual(['launchWindow']);
    expect(graph.states.find((s) => s.path === 'ending')!.invokes).toEqual(['cleanupWindow']);
    expect(graph.transitions).toHaveLength(definedTransitions(sessionMachine));
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({ from: 'orphaned', trigger: 'SPAWN', guard: 'modeFresh', to: 'ending', actions: ['queueFreshSpawn'] }),
    );
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({ from: 'spawning', trigger: 'error launchWindow', guard: null, to: 'normal' }),
    );
    expect(graph.transitions).toContainEqual(
      expect.objectContaining({ from: 'active.running', trigger: 'SPAWN', guard: 'modeKeeps', targetless: true }),
    );
  });

  it('changes when the machine changes: a state added to the definition appears in every format', () => {
    const changed = createMachine({
      ...(sessionMachine.config as object),
      states: {
        ...(sessionMachine.config.states as object),
        paused: { on: { RESUME: { target: 'spawning', guard: 'canResume' } } },
      },
    } as never) as AnyStateMachine;
    expect(toMermaid(machineGraph(changed))).toContain('paused --> spawning : RESUME [canResume]');
    expect(toDot(machineGraph(changed))).toContain('"paused" -> "spawning" [label="RESUME [canResume]"]');
    expect(JSON.parse(renderGraph('json', changed)).states.paused).toEqual({
      on: { RESUME: { target: 'spawning', guard: 'canResume' } },
    });
  });

  it('draws DOT with active as a cluster and edges from it attached with ltail', () => {
    const dot = toDot();
    expect(dot).toMatch(/^digraph "warden-session" \{/);
    expect(dot).toContain('subgraph "cluster_active" {');
    expect(dot).toContain('"active.running.busy" -> "orphaned" [label="WINDOW_GONE / forgetWindow", ltail="cluster_active"]');
    expect(dot.match(/ -> /g)?.length).toBe(definedTransitions(sessionMachine) + 1);
    expect(dot.split('{').length).toBe(dot.split('}').length);
  });

  it('gives a JSON definition from which the same machine can be rebuilt (what Stately imports)', () => {
    const definition = toDefinition() as Parameters<typeof createMachine>[0];
    expect(definition).toMatchObject({ id: 'warden-session', initial: 'normal' });
    // Rebuilt from nothing but the JSON and implementations registered under the same names.
    const noop = fromPromise(async () => undefined);
    const names = <K extends string>(keys: K[]) => Object.fromEntries(keys.map((k) => [k, () => true])) as Record<K, () => boolean>;
    const rebuilt = setup({
      actors: { launchWindow: noop, cleanupWindow: noop },
      guards: names(['modeStarts', 'modeKeeps', 'modeFresh', 'hasNextSpawn', 'launchedPaneDead', 'foundPaneDead', 'restartWanted', 'restartLimitReached', 'restartIsDue']),
    }).createMachine(definition as never);
    expect(machineGraph(rebuilt as unknown as AnyStateMachine)).toEqual(machineGraph());
  });
});

describe('the JSON definition and the Stately inspector', () => {
  it('is the definition @statelyai/inspect sends the inspector for a session actor, functions aside', async () => {
    const { createInspector } = await import('@statelyai/inspect');
    const sent: { type: string; definition?: string }[] = [];
    const inspector = createInspector({ send: (event) => sent.push(event as never) });
    const actor = createActor(sessionMachine, { input: { key: 'drawn' }, inspect: inspector.inspect });
    actor.start();
    await waitFor(() => sent.some((e) => e.type === '@xstate.actor'), 'the actor event');
    actor.stop();
    const withoutFunctions = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(withoutFunctions);
      if (!value || typeof value !== 'object') return value;
      // The inspector writes a function as `{ type: <its name> }`: the context factory, input and
      // params mappers.
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => k !== 'context' && k !== 'input' && k !== 'params')
          .map(([k, v]) => [k, withoutFunctions(v)]),
      );
    };
    const definition = JSON.parse(sent.find((e) => e.type === '@xstate.actor')!.definition!);
    expect(withoutFunctions(definition)).toEqual(toDefinition());
  });
});

describe('warden graph', () => {
  it('prints Mermaid by default, DOT and JSON on request, straight from the machine', async () => {
    const mermaid = await execa('node', [cli, 'graph']);
    expect(mermaid.stdout).toBe(toMermaid().trimEnd());
    const dot = await execa('node', [cli, 'graph', '--format', 'dot']);
    expect(dot.stdout).toBe(toDot().trimEnd());
    const json = await execa('node', [cli, 'graph', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(toDefinition());
    const globalJson = await execa('node', [cli, '--json', 'graph']);
    expect(JSON.parse(globalJson.stdout)).toEqual(toDefinition());
  });

  it('refuses an unknown format with exit 2 and names the choices', async () => {
    const result = await execa('node', [cli, 'graph', '--format', 'png'], { reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('mermaid, dot, json');
  });
});
