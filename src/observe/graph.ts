/**
 * Pictures of the session statechart, derived from the machine definition itself through
 * `xstate/graph`, never from a hand-kept copy: Mermaid (docs), DOT (Graphviz) and the JSON
 * definition that the Stately inspector renders and Stately Studio imports.
 */
import { toDirectedGraph, type DirectedGraphNode } from 'xstate/graph';
import type { AnyStateMachine } from 'xstate';
import { sessionMachine } from '../../machines/session.js';

export const GRAPH_FORMATS = ['mermaid', 'dot', 'json'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** One transition of the statechart, as a row of the transition table. */
export interface GraphTransition {
  /** Dotted path of the state that declares it (`active`, `active.running`, …). */
  from: string;
  /** What triggers it: an event type, or `done launchWindow` / `error cleanupWindow` for a service. */
  trigger: string;
  /** The raw event type (`SPAWN`, `xstate.done.actor.launch`, …). */
  eventType: string;
  guard: string | null;
  /** Dotted path of the target; the source itself for a transition without a target. */
  to: string;
  actions: string[];
  /** Leaves and re-enters its state (restarting what it invokes). */
  reenter: boolean;
  /** Has no target: the state is kept, nothing is exited or entered. */
  targetless: boolean;
}

export interface GraphState {
  path: string;
  parent: string | null;
  initial: string | null;
  /** The services the state invokes while it is active (`launchWindow`, …). */
  invokes: string[];
  children: string[];
}

export interface MachineGraph {
  id: string;
  initial: string;
  states: GraphState[];
  transitions: GraphTransition[];
}

interface TransitionLike {
  eventType: string;
  target?: readonly unknown[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
  reenter?: boolean;
}

interface StateNodeLike {
  id: string;
  path: string[];
  initial?: { target: readonly { path: string[] }[] } | undefined;
  invoke: readonly { id: string; src: unknown }[];
  /** Eventless transitions, taken as soon as their guard holds. */
  always?: readonly (TransitionLike & { target?: readonly { path: string[] }[] })[] | undefined;
}

function dotted(path: readonly string[]): string {
  return path.join('.');
}

function nameOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'type' in value && typeof value.type === 'string') return value.type;
  if (typeof value === 'function' && value.name) return value.name;
  return 'inline';
}

/** `xstate.done.actor.launch` → `done launchWindow`: the service by the name it is registered under. */
function triggerOf(eventType: string, node: StateNodeLike): string {
  const match = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (!match) return eventType;
  const invoked = node.invoke.find((i) => i.id === match[2]);
  return `${match[1]} ${invoked ? nameOf(invoked.src) : match[2]}`;
}

/** The statechart as plain data: every state (with substates and services) and every transition. */
export function machineGraph(machine: AnyStateMachine = sessionMachine): MachineGraph {
  const root = toDirectedGraph(machine);
  const states: GraphState[] = [];
  const transitions: GraphTransition[] = [];
  const visit = (node: DirectedGraphNode, parent: string | null): void => {
    const stateNode = node.stateNode as unknown as StateNodeLike;
    const path = dotted(stateNode.path);
    const initialTarget = stateNode.initial?.target[0];
    states.push({
      path,
      parent,
      initial: node.children.length && initialTarget ? dotted(initialTarget.path) : null,
      invokes: stateNode.invoke.map((i) => nameOf(i.src)),
      children: node.children.map((c) => dotted((c.stateNode as unknown as StateNodeLike).path)),
    });
    for (const edge of node.edges) {
      const t = edge.transition as unknown as TransitionLike;
      transitions.push({
        from: path,
        trigger: triggerOf(t.eventType, stateNode),
        eventType: t.eventType,
        guard: t.guard === undefined ? null : nameOf(t.guard),
        to: dotted((edge.target as unknown as StateNodeLike).path),
        actions: t.actions.map(nameOf),
        reenter: t.reenter === true,
        targetless: t.target === undefined,
      });
    }
    // xstate/graph leaves eventless transitions out of its edges: they are transitions all the same.
    for (const t of stateNode.always ?? []) {
      transitions.push({
        from: path,
        trigger: 'always',
        eventType: '',
        guard: t.guard === undefined ? null : nameOf(t.guard),
        to: t.target?.[0] ? dotted(t.target[0].path) : path,
        actions: t.actions.map(nameOf),
        reenter: t.reenter === true,
        targetless: t.target === undefined,
      });
    }
    for (const child of node.children) visit(child, path);
  };
  for (const child of root.children) visit(child, null);
  const initial = (root.stateNode as unknown as StateNodeLike).initial?.target[0];
  return { id: machine.id, initial: initial ? dotted(initial.path) : '', states, transitions };
}

/** `SPAWN [modeFresh] / queueFreshSpawn`: how a transition is labelled in every picture. */
export function transitionLabel(t: GraphTransition): string {
  const guard = t.guard ? ` [${t.guard}]` : '';
  const actions = t.actions.length ? ` / ${t.actions.join(', ')}` : '';
  return `${t.trigger}${guard}${actions}`;
}

/** The id a state has in the Mermaid text (and in the SVG Mermaid draws from it). */
export function mermaidId(path: string): string {
  return path.replaceAll('.', '_');
}

/** A Mermaid `stateDiagram-v2`: substates nested, services as notes, guards and actions on edges. */
export function toMermaid(graph: MachineGraph = machineGraph()): string {
  const lines = ['stateDiagram-v2'];
  const byParent = (parent: string | null) => graph.states.filter((s) => s.parent === parent);
  const emit = (state: GraphState, indent: string): void => {
    const id = mermaidId(state.path);
    const name = state.path.split('.').at(-1)!;
    if (state.children.length) {
      // Mermaid names a composite state by its id only (no `"label" as id` form before `{`).
      lines.push(`${indent}state ${id} {`);
      lines.push(`${indent}  [*] --> ${mermaidId(state.initial!)}`);
      for (const child of byParent(state.path)) emit(child, `${indent}  `);
      lines.push(`${indent}}`);
    } else {
      lines.push(`${indent}state "${name}" as ${id}`);
    }
    for (const service of state.invokes) lines.push(`${indent}${id} : invokes ${service}`);
  };
  lines.push(`  [*] --> ${mermaidId(graph.initial)}`);
  for (const state of byParent(null)) emit(state, '  ');
  for (const t of graph.transitions) {
    lines.push(`  ${mermaidId(t.from)} --> ${mermaidId(t.to)} : ${transitionLabel(t)}`);
  }
  return `${lines.join('\n')}\n`;
}

function dotString(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * Graphviz DOT. A compound state is a cluster; an edge from or to it is drawn from its initial
 * substate with `ltail`/`lhead`, which is how DOT attaches edges to clusters.
 */
export function toDot(graph: MachineGraph = machineGraph()): string {
  const lines = [`digraph ${dotString(graph.id)} {`, '  compound=true;', '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  const byPath = new Map(graph.states.map((s) => [s.path, s]));
  const anchor = (path: string): string => {
    let state = byPath.get(path);
    while (state?.children.length) state = byPath.get(state.initial!);
    return state?.path ?? path;
  };
  const emit = (state: GraphState, indent: string): void => {
    const name = state.path.split('.').at(-1)!;
    if (state.children.length) {
      lines.push(`${indent}subgraph ${dotString(`cluster_${state.path}`)} {`);
      lines.push(`${indent}  label=${dotString(name)};`);
      for (const child of graph.states.filter((s) => s.parent === state.path)) emit(child, `${indent}  `);
      lines.push(`${indent}}`);
      return;
    }
    const invokes = state.invokes.map((s) => `\\ninvokes ${s}`).join('');
    lines.push(`${indent}${dotString(state.path)} [label="${name}${invokes}"];`);
  };
  lines.push('  "[*]" [shape=point];');
  for (const state of graph.states.filter((s) => s.parent === null)) emit(state, '  ');
  lines.push(`  "[*]" -> ${dotString(anchor(graph.initial))};`);
  for (const t of graph.transitions) {
    const attrs = [`label=${dotString(transitionLabel(t))}`];
    if (byPath.get(t.from)?.children.length) attrs.push(`ltail=${dotString(`cluster_${t.from}`)}`);
    if (byPath.get(t.to)?.children.length && t.from !== t.to) attrs.push(`lhead=${dotString(`cluster_${t.to}`)}`);
    lines.push(`  ${dotString(anchor(t.from))} -> ${dotString(anchor(t.to))} [${attrs.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * The machine's own config (what `createMachine` was given), as JSON: the definition the Stately
 * inspector receives for every actor and what Stately Studio imports. Functions (the context
 * factory, invoke input mappers) are implementation, not structure, and are left out; guards,
 * actions and services are already referenced by name.
 */
export function toDefinition(machine: AnyStateMachine = sessionMachine): unknown {
  return JSON.parse(JSON.stringify(machine.config, (_key, value: unknown) => (typeof value === 'function' ? undefined : value)));
}

export function renderGraph(format: GraphFormat, machine: AnyStateMachine = sessionMachine): string {
  switch (format) {
    case 'mermaid':
      return toMermaid(machineGraph(machine));
    case 'dot':
      return toDot(machineGraph(machine));
    case 'json':
      return `${JSON.stringify(toDefinition(machine), null, 2)}\n`;
  }
}

/** The transition table as Markdown rows, one per transition, in definition order. */
export function toMarkdownTable(graph: MachineGraph = machineGraph()): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const rows = [
    '| from | trigger | guard | to | actions |',
    '|---|---|---|---|---|',
    ...graph.transitions.map(
      (t) =>
        `| ${cell(t.from)} | ${cell(t.trigger)}${t.reenter ? ' (re-enter)' : ''} | ${t.guard ?? ''} | ${t.targetless ? '(stays)' : cell(t.to)} | ${t.actions.join(', ')} |`,
    ),
  ];
  return `${rows.join('\n')}\n`;
}
