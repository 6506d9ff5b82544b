/**
 * What the rest of the code may know about the statechart's states, derived from the machine
 * itself: its state paths, which state values it can hold, which of them run a service, and named
 * predicates for the states the engine acts on. Nothing outside `machines/` compares state
 * strings; a new substate or a parallel region added to the machine needs no edit here to be
 * persisted, rehydrated, drawn or hooked.
 */
import { matchesState, type AnyStateMachine, type StateValue } from 'xstate';
import type { Activity } from '../src/model/schema.js';
import { sessionMachine } from './session.js';

/** The part of a state node this module reads (xstate's `StateNode`, structurally). */
interface NodeShape {
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  states: Record<string, NodeShape>;
  invoke: readonly unknown[];
}

function rootOf(machine: AnyStateMachine): NodeShape {
  return machine.root as unknown as NodeShape;
}

/** Every state and substate as a dotted path, parents before their children. */
export function statePathsOf(machine: AnyStateMachine): string[] {
  const paths: string[] = [];
  const walk = (node: NodeShape, prefix: string) => {
    for (const [key, child] of Object.entries(node.states)) {
      if (child.type === 'history') continue;
      const path = prefix ? `${prefix}.${key}` : key;
      paths.push(path);
      walk(child, path);
    }
  };
  walk(rootOf(machine), '');
  return paths;
}

/** `active.running`, `orphaned`, … : a state value as one dotted string (parallel regions joined by `,`). */
export function stateString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => {
        const rest = stateString(v);
        return rest ? `${k}.${rest}` : k;
      })
      .join(',');
  }
  return '';
}

/** The top-level state name of a state value (`{ active: 'running' }` → `active`). */
export function topState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') return Object.keys(value)[0] ?? '';
  return '';
}

/** Whether `value` names states the machine has, down to leaves, with every region of a parallel state. */
export function isStateValueOf(machine: AnyStateMachine, value: unknown): boolean {
  const fits = (node: NodeShape, v: unknown): boolean => {
    if (node.type === 'atomic' || node.type === 'final') return v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    if (typeof v === 'string') {
      // A compound child named alone resolves to its initial state (a record written before the
      // child had substates: `{ active: 'running' }` is `active.running.busy`).
      const child = node.states[v];
      // A compound child named alone resolves to its initial substate: a record written before
      // that state had substates (`{ active: 'exited' }`) stays readable.
      return node.type === 'compound' && child !== undefined && child.type !== 'parallel' && child.type !== 'history';
    }
    if (!v || typeof v !== 'object') return false;
    const entries = Object.entries(v);
    if (node.type === 'parallel') {
      const regions = Object.keys(node.states);
      return entries.length === regions.length && entries.every(([k, sub]) => node.states[k] !== undefined && fits(node.states[k]!, sub));
    }
    return entries.length === 1 && node.states[entries[0]![0]] !== undefined && fits(node.states[entries[0]![0]]!, entries[0]![1]);
  };
  return fits(rootOf(machine), value);
}

/** Per machine, the answers of `invokesServiceIn` by state value (a machine has few; a listing asks per session). */
const serviceAnswers = new WeakMap<AnyStateMachine, Map<string, boolean>>();
const SERVICE_ANSWERS_KEPT = 1000;

/**
 * `value` down to its leaves: a compound state named alone (a record written before that state had
 * substates, or by another machine) is in its initial substate, as XState restores it.
 */
export function resolvedValue(machine: AnyStateMachine, value: unknown): unknown {
  try {
    return machine.resolveState({ value: value as StateValue, context: {} as never }).value;
  } catch {
    return value; // not a value of this machine: judged as it is
  }
}

/** Whether any state of `value` (or an ancestor of one) invokes a service: then an actor must be running for it. */
export function invokesServiceIn(machine: AnyStateMachine, value: unknown): boolean {
  let answers = serviceAnswers.get(machine);
  if (!answers) serviceAnswers.set(machine, (answers = new Map()));
  const key = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  const known = answers.get(key);
  if (known !== undefined) return known;
  const walk = (node: NodeShape, v: unknown): boolean => {
    if (node.invoke.length > 0) return true;
    if (typeof v === 'string') return (node.states[v]?.invoke.length ?? 0) > 0;
    if (!v || typeof v !== 'object') return false;
    return Object.entries(v).some(([k, sub]) => node.states[k] !== undefined && walk(node.states[k]!, sub));
  };
  const answer = walk(rootOf(machine), resolvedValue(machine, value));
  // Values read from a file could be anything: only so many are remembered.
  if (answers.size < SERVICE_ANSWERS_KEPT) answers.set(key, answer);
  return answer;
}

/**
 * Every state and substate of the session machine as a dotted path, parents before their children:
 * what a hook may name, what a persisted snapshot may hold. Derived from the machine.
 */
export const SESSION_STATE_PATHS: readonly string[] = statePathsOf(sessionMachine);
/** A dotted state path of the session machine (`active.running`). */
export type SessionStatePath = string;

/** What a persisted record holds of its actor: enough to judge its state. */
export interface SnapshotLike {
  value: unknown;
  context: { error: unknown };
}

/**
 * Is the state a session machine snapshot holds one of `path` (`'active'` matches `active.running`)?
 * XState's `matchesState(path, value)`, with the path split once rather than on every call: every
 * listing asks this a few times per session.
 */
function inState(path: string) {
  const segments = path.split('.');
  const last = segments.length - 1;
  return (value: unknown): boolean => {
    if (typeof value === 'string' && value.includes('.')) return matchesState(path, value as StateValue);
    let node = value;
    for (let i = 0; i <= last; i++) {
      if (typeof node === 'string') return i === last && node === segments[i];
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segments[i]!)) return false;
      node = (node as Record<string, unknown>)[segments[i]!];
    }
    return true;
  };
}

/** Named predicates over a state value: the only way code outside `machines/` asks what state a session is in. */
export const isNormal = inState('normal');
export const isSpawning = inState('spawning');
export const isActive = inState('active');
export const isRunning = inState('active.running');
export const isExited = inState('active.exited');
export const isOrphaned = inState('orphaned');
export const isEnding = inState('ending');
/** Exited, with the restart policy's deadline ahead. */
export const isRestartPending = inState('active.exited.backoff');
/** Exited, and the restart policy gave up. */
export const hasGivenUp = inState('active.exited.gaveUp');
export const isBusy = inState('active.running.busy');
export const isIdle = inState('active.running.idle');
export const isWaiting = inState('active.running.waiting');

/** The activity of a running session (`busy` / `idle` / `waiting`), or null in any other state. */
export function activityIn(value: unknown): Activity | null {
  if (isBusy(value)) return 'busy';
  if (isIdle(value)) return 'idle';
  if (isWaiting(value)) return 'waiting';
  // A record written before activity existed (`{ active: 'running' }`): what it resolves to.
  if (isRunning(value)) {
    const resolved = resolvedValue(sessionMachine, value);
    if (resolved !== value && stateString(resolved) !== stateString(value)) return activityIn(resolved);
  }
  return null;
}

/**
 * What depends on which of a machine's states run a service, judged against that machine: the
 * engine asks its own (a variant's new state that invokes a service is in flight like `spawning`).
 */
export interface ServiceStates {
  /** A state running a service (spawning, ending): its record carries the owner that runs it. */
  runsService(value: unknown): boolean;
  /**
   * Work under way: a state whose service is running or due (not a cleanup that failed and waits
   * for a RETRY). The one in-flight definition: abandoned work is resumed, and a live owner's work
   * is waited for, exactly when this holds.
   */
  isInFlight(snapshot: SnapshotLike): boolean;
  /** A state at rest: no service runs there, so a pure transition can take a probe event without an actor. */
  isAtRest(value: unknown): boolean;
  /** Whether a persisted state value is one this machine can hold. */
  isKnownState(value: unknown): boolean;
}

export function serviceStatesOf(machine: AnyStateMachine): ServiceStates {
  const runsService = (value: unknown) => invokesServiceIn(machine, value);
  return {
    runsService,
    isInFlight: (snapshot) => runsService(snapshot.value) && snapshot.context.error === null,
    isAtRest: (value) => !isNormal(value) && !runsService(value),
    isKnownState: (value) => isStateValueOf(machine, value),
  };
}

/** The session machine's (`serviceStatesOf(sessionMachine)`); an engine asks its own machine's. */
export const { runsService, isInFlight, isAtRest, isKnownState }: ServiceStates = serviceStatesOf(sessionMachine);

/**
 * The states `warden wait --until` can wait for, by name: an activity, or where a session's life
 * stands. (`ended`, no session left, is the caller's: it has no state value.)
 */
export const WAIT_STATES: Readonly<Record<string, (value: unknown) => boolean>> = {
  busy: isBusy,
  idle: isIdle,
  waiting: isWaiting,
  running: isRunning,
  exited: isExited,
  orphaned: isOrphaned,
};
