/**
 * Pure transitions of the machine for keys that have no actor: rehydrating 10,000 sessions whose
 * windows vanished then costs 10,000 pure steps, not 10,000 live actors. The same table and the
 * same actions as an actor; a step that would run anything but `assign` is refused.
 */
import { createActor, type AnyActorScope, type ExecutableActionObject } from 'xstate';
import { serviceStatesOf, stateString } from '../../machines/paths.js';
import type { SessionEvent, SessionMachine } from '../../machines/session.js';
import type { PersistedSnapshot } from '../model/schema.js';

/** What a pure step made of a snapshot. */
export interface PureStep {
  snapshot: PersistedSnapshot;
  from: string;
  to: string;
  /** False when neither the state nor the context changed: nothing to write. */
  changed: boolean;
}

export class PureStepper {
  private inert: { scope: AnyActorScope; actions: ExecutableActionObject[] } | null = null;

  private readonly isAtRest: (value: unknown) => boolean;

  constructor(private readonly machine: SessionMachine) {
    this.isAtRest = serviceStatesOf(machine).isAtRest;
  }

  /**
   * The next snapshot of `current` under `event` when both ends are at rest (no service to run),
   * or null when an actor is needed after all.
   */
  step(current: PersistedSnapshot, event: SessionEvent): PureStep | null {
    if (current.status !== 'active' || !this.isAtRest(current.value)) return null;
    const machine = this.machine;
    const resolved = machine.resolveState({ value: current.value as never, context: current.context as never });
    const scope = this.scope();
    scope.actions.length = 0;
    const next = machine.transition(resolved, event, scope.scope);
    if (scope.actions.length > 0 || next.status !== 'active' || !this.isAtRest(next.value)) return null;
    const from = stateString(current.value);
    const to = stateString(next.value);
    const changed = to !== from || next.context !== resolved.context;
    return { snapshot: machine.getPersistedSnapshot(next) as unknown as PersistedSnapshot, from, to, changed };
  }

  /**
   * The inert actor scope pure transitions run in, made once: xstate's own `transition()` makes a
   * new actor for every call, which is most of the cost at 10,000 keys. Actions are collected, not
   * run: a transition that has any (the machine's are all `assign`s, applied in place) is refused.
   */
  private scope(): { scope: AnyActorScope; actions: ExecutableActionObject[] } {
    if (this.inert) return this.inert;
    const self = createActor(this.machine, { input: { key: 'pure-transition' } });
    const actions: ExecutableActionObject[] = [];
    const scope = {
      self,
      id: '',
      sessionId: '',
      system: self.system,
      defer: () => undefined,
      emit: () => undefined,
      logger: () => undefined,
      stopChild: () => undefined,
      actionExecutor: (action: ExecutableActionObject) => void actions.push(action),
    } as unknown as AnyActorScope;
    this.inert = { scope, actions };
    return this.inert;
  }
}
