/**
 * A persisted snapshot can pass the schema and still be unable to progress: a `spawning` or
 * `ending` snapshot whose invoked service is missing from `children` (written by hand, by another
 * tool, or cut short) is restored with nothing running, and XState never starts an invoke again
 * on restore. This puts the missing child back as the machine itself would have invoked it (its
 * id, source and input, read from the state node), so the restored actor runs the service, which
 * is idempotent (invariant 2) and so converges.
 */
import type { AnyStateMachine, StateValue } from 'xstate';
import { resolvedValue } from './paths.js';
import { sessionMachine } from './session.js';

interface InvokeShape {
  id: string;
  src: string | object;
  input?: unknown;
}
interface NodeShape {
  states: Record<string, NodeShape>;
  invoke: readonly InvokeShape[];
}

/** The state nodes `value` is in, from the top level down. */
function activeNodes(machine: AnyStateMachine, value: StateValue): NodeShape[] {
  const nodes: NodeShape[] = [];
  const walk = (node: NodeShape, v: StateValue) => {
    if (typeof v === 'string') {
      const child = node.states[v];
      if (child) nodes.push(child);
      return;
    }
    for (const [key, sub] of Object.entries(v)) {
      const child = node.states[key];
      if (!child) continue;
      nodes.push(child);
      if (sub !== undefined) walk(child, sub as StateValue);
    }
  };
  walk(machine.root as unknown as NodeShape, value);
  return nodes;
}

export interface SnapshotShape {
  value: unknown;
  context: unknown;
  children?: Record<string, unknown> | undefined;
  [field: string]: unknown;
}

/**
 * `snapshot` with the children its state invokes but lacks put back, or: `null` when nothing is
 * missing; `'underivable'` when a missing child's input cannot be made from the context (then the
 * record cannot progress and must be reported).
 */
export function withMissingInvocations<T extends SnapshotShape>(snapshot: T, machine: AnyStateMachine = sessionMachine): T | null | 'underivable' {
  const children: Record<string, unknown> = { ...(snapshot.children ?? {}) };
  let added = false;
  for (const node of activeNodes(machine, resolvedValue(machine, snapshot.value) as StateValue)) {
    for (const invoke of node.invoke) {
      if (invoke.id in children) continue;
      let input: unknown;
      try {
        input = typeof invoke.input === 'function' ? (invoke.input as (a: object) => unknown)({ context: snapshot.context, event: { type: 'xstate.init' } }) : invoke.input;
      } catch {
        return 'underivable';
      }
      // A service that acts on a session (its input names one) cannot without the session's id.
      const sessionId = typeof input === 'object' && input !== null && 'sessionId' in input ? input.sessionId : undefined;
      if (typeof invoke.src !== 'string' || (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId === ''))) return 'underivable';
      children[invoke.id] = { snapshot: { status: 'active', input }, src: invoke.src, syncSnapshot: false };
      added = true;
    }
  }
  return added ? { ...snapshot, children } : null;
}
