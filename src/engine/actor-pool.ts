/**
 * The live session actors, one per key, created lazily from the key's current snapshot when
 * something has to happen to it, and stopped when its record leaves the file. Each actor's
 * snapshots are handed on (to the write-behind) as they happen; the event that caused each one
 * is remembered from inspection so transitions can name it.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { stateString } from '../../machines/paths.js';
import type { SessionEvent, SessionMachine } from '../../machines/session.js';
import { toErrorData } from '../model/errors.js';
import type { PersistedSnapshot, SessionContext } from '../model/schema.js';

export type SessionActor = Actor<SessionMachine>;

/** A state change an actor made, for the write-behind to persist and report. */
export interface ActorStep {
  key: string;
  from: string;
  to: string;
  before: { value: unknown; context: SessionContext } | undefined;
  after: { value: unknown; context: SessionContext };
  event: string;
}

export interface ActorPoolOptions {
  machine: SessionMachine;
  inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  /** The snapshot a new actor starts from: the key's pending or durable one; none for a new key. */
  snapshotOf: (key: string) => PersistedSnapshot | undefined;
  /** Every new snapshot of an actor (a state change, or a context change in the same state). */
  onStep: (step: ActorStep) => void;
  /** The actor failed: its key cannot be used until the file changes. */
  onFailure: (key: string, message: string) => void;
}

export class ActorPool {
  private readonly actors = new Map<string, SessionActor>();
  private readonly lastSeen = new Map<string, { value: unknown; state: string; context: SessionContext }>();
  private readonly lastEvent = new Map<string, string>();

  constructor(private readonly options: ActorPoolOptions) {}

  has(key: string): boolean {
    return this.actors.has(key);
  }

  get(key: string): SessionActor | undefined {
    return this.actors.get(key);
  }

  entries(): [string, SessionActor][] {
    return [...this.actors];
  }

  /** The key's actor, created (and started from its current snapshot) when it has none. */
  actorFor(key: string): SessionActor {
    const existing = this.actors.get(key);
    if (existing) return existing;
    const restored = this.options.snapshotOf(key);
    const inspect = this.inspector(key);
    const machine = this.options.machine;
    const actor = restored
      ? createActor(machine, { snapshot: restored as never, input: { key }, inspect })
      : createActor(machine, { input: { key }, inspect });
    this.actors.set(key, actor);
    let started = false;
    actor.subscribe({
      next: (snapshot) => {
        if (!started || this.actors.get(key) !== actor) return;
        this.stepped(key, snapshot.value, snapshot.context);
      },
      error: (err) => {
        if (this.actors.get(key) !== actor) return;
        this.actors.delete(key);
        this.options.onFailure(key, `the session actor failed: ${toErrorData(err).message}`);
      },
    });
    // Subscribed (with an error observer) before start: a restored snapshot never throws here.
    actor.start();
    const snapshot = actor.getSnapshot();
    this.lastSeen.set(key, { value: snapshot.value, state: stateString(snapshot.value), context: snapshot.context });
    started = true;
    return actor;
  }

  send(key: string, event: SessionEvent): void {
    this.actorFor(key).send(event);
  }

  /** Stops and forgets the key's actor (nothing is written). */
  stop(key: string): void {
    const actor = this.actors.get(key);
    this.actors.delete(key);
    this.lastSeen.delete(key);
    actor?.stop();
  }

  stopAll(): void {
    for (const key of [...this.actors.keys()]) this.stop(key);
  }

  private inspector(key: string): (event: InspectionEvent) => void {
    const user = this.options.inspect;
    return (event) => {
      if (event.type === '@xstate.event' && event.actorRef === this.actors.get(key)) {
        this.lastEvent.set(key, event.event.type);
      }
      if (typeof user === 'function') user(event);
      else user?.next?.(event);
    };
  }

  private stepped(key: string, value: unknown, context: SessionContext): void {
    const before = this.lastSeen.get(key);
    const to = stateString(value);
    if (before && before.state === to && before.context === context) return;
    this.lastSeen.set(key, { value, state: to, context });
    this.options.onStep({
      key,
      from: before?.state ?? 'normal',
      to,
      before: before && { value: before.value, context: before.context },
      after: { value, context },
      event: this.lastEvent.get(key) ?? 'unknown',
    });
  }
}
