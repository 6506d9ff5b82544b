/**
 * Who carries out a session's in-flight work (a spawn, a cleanup): this process, another live
 * process, or nobody (its process died). Abandoned work is taken over; a launch this process
 * could not confirm with tmux is parked and later resumed like a dead process's.
 */
import { hostname } from 'node:os';
import { isSpawning, type ServiceStates } from '../../machines/paths.js';
import type { RecordOwner, SessionRecord } from '../model/schema.js';
import { processAlive, processStartTime } from '../tmux/host.js';
import type { ActorPool } from './actor-pool.js';
import type { DurableView } from './durable-view.js';
import type { WriteBehind } from './write-behind.js';

const HOST = hostname();

/**
 * Whether the process an owner names still runs (invariant 11: liveness, never age). One on
 * another host cannot be checked, so it counts as alive.
 */
export function ownerAlive(owner: RecordOwner): boolean {
  if (owner.host !== HOST) return true;
  const start = owner.bootId && owner.startTicks != null ? { bootId: owner.bootId, startTicks: owner.startTicks } : null;
  return processAlive(owner.pid, start);
}

/** This process, as an owner. */
export function selfOwner(): RecordOwner {
  const start = processStartTime(process.pid);
  return { pid: process.pid, host: HOST, bootId: start?.bootId ?? null, startTicks: start?.startTicks ?? null };
}

export class Ownership {
  /** Session ids restored in `spawning`: their launch must look for an existing window first. */
  private readonly resumedLaunches = new Set<string>();
  /** Keys whose launch is left `spawning` for another process (tmux did not answer): not waited for. */
  private readonly parked = new Set<string>();

  constructor(
    private readonly view: DurableView,
    private readonly pool: ActorPool,
    private readonly writes: WriteBehind,
    private readonly isClosed: () => boolean,
    private readonly states: ServiceStates,
  ) {}

  private readonly self: RecordOwner = selfOwner();

  /** This process, as stamped on the records whose service it runs. */
  owner(): RecordOwner {
    return { ...this.self };
  }

  /** The record's owner is this process (same pid and host; same start, when both are known). */
  isOurs(record: SessionRecord | null): boolean {
    const owner = record?.owner;
    if (owner?.pid !== process.pid || owner.host !== HOST) return false;
    return owner.startTicks == null || this.self.startTicks == null || (owner.startTicks === this.self.startTicks && owner.bootId === this.self.bootId);
  }

  /**
   * Is a spawn or cleanup of this record being carried out by a live process other than us right
   * now? Decided by the owner's liveness alone (invariant 11), never by the record's age: a
   * process stopped for minutes, or a clock stepped, does not make its work anyone else's.
   */
  busyElsewhere(record: SessionRecord): boolean {
    if (!this.states.isInFlight(record.snapshot)) return false;
    if (this.isOurs(record) && this.pool.has(record.snapshot.context.key)) return false;
    const owner = record.owner;
    if (!owner) return false;
    if (owner.host === HOST && owner.pid === process.pid) return false;
    return ownerAlive(owner);
  }

  /** A launch of `sessionId` that may have run before: it adopts a window carrying its id first. */
  mayHaveLaunched(sessionId: string): boolean {
    return this.resumedLaunches.has(sessionId);
  }

  launchedOnce(sessionId: string): void {
    this.resumedLaunches.delete(sessionId);
  }

  /** tmux did not answer a launch nor its rollback: the key's launch is left for a later take-over. */
  park(key: string, sessionId: string): void {
    this.resumedLaunches.add(sessionId);
    this.parked.add(key);
  }

  unpark(key: string): void {
    this.parked.delete(key);
  }

  isParked(key: string): boolean {
    return this.parked.has(key);
  }

  /**
   * Stops the actors of launches left unconfirmed (tmux did not answer the spawn nor its
   * rollback): without an actor, their records are resumed by `resumeAbandoned`, which adopts the
   * window if it came up or creates it once.
   */
  releaseParked(): void {
    for (const key of [...this.parked]) {
      this.pool.stop(key);
      this.parked.delete(key);
    }
  }

  /** A record left in `spawning` or `ending` by a process that died: take it over and finish. */
  resumeAbandoned(): void {
    if (this.isClosed()) return;
    for (const [key, record] of this.view.entries()) {
      if (this.view.problem(key) || this.pool.has(key) || !this.states.isInFlight(record.snapshot)) continue;
      if (this.busyElsewhere(record)) continue;
      const sessionId = record.snapshot.context.sessionId;
      if (isSpawning(record.snapshot.value) && sessionId) this.resumedLaunches.add(sessionId);
      this.pool.actorFor(key);
      // Claim it: the restored service waits until a record owned by this process is durable.
      this.writes.queueWrite(key);
    }
  }
}
