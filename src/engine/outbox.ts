/**
 * The outbox (invariant 14): each transition its consumer (the hooks) wants is written into the
 * state file in the same commit as the transition, owned by this process, handed to the consumer
 * once that commit is durable, and removed once delivered. What a process left undelivered (it
 * crashed, was interrupted, or ran out of its short wait and released it) is claimed by the next
 * process that delivers, one taker per entry, and delivered again: at least once.
 */
import { randomUUID } from 'node:crypto';
import type { OutboxEntry, RecordOwner, StateDocument } from '../model/schema.js';
import { sameOwner } from '../store/merge.js';
import type { SessionStore } from '../store/store.js';
import type { TransitionEvent, TransitionOutbox } from './types.js';

/** A transition whose delivery was cut short (or whose deliverer died) this many times is dropped (and reported). */
export const OUTBOX_MAX_ATTEMPTS = 5;
/** While another live process owns entries, how often we look whether it is gone. */
const WATCH_OWNERS_MS = 1000;

export interface OutboxOptions {
  store: SessionStore;
  consumer: TransitionOutbox;
  /** This process. */
  self: RecordOwner;
  /** Whether an owner's process still runs. */
  alive: (owner: RecordOwner) => boolean;
}

export class Outbox {
  /** Entries handed to the consumer by this process (they are ours until done or released). */
  private readonly handed = new Set<string>();
  private readonly removals = new Set<string>();
  private readonly releases = new Set<string>();
  private readonly unclaims = new Set<string>();
  /** Ours, whose removal or release could not be written: delivered again at the next take. */
  private readonly lost = new Set<string>();
  private settling: Promise<void> | null = null;
  private claiming: Promise<void> = Promise.resolve();
  /** Entries other live processes own, as last seen: claimed once their owner is gone. */
  private foreign: OutboxEntry[] = [];
  private watcher: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: OutboxOptions) {}

  /** A new entry for `transition`, owned by this process, to commit with it; null when it has no hooks. */
  entryFor(transition: Omit<TransitionEvent, 'origin'>): OutboxEntry | null {
    const work = this.options.consumer.plan(transition);
    return work && { id: randomUUID(), hooks: work.hooks, cwd: work.cwd, owner: this.options.self, attempts: 0, transition };
  }

  /** Our commit wrote these entries (and dropped `trimmed`): deliver them. */
  written(entries: readonly OutboxEntry[], trimmed: readonly OutboxEntry[] = []): void {
    this.reportTrimmed(trimmed);
    for (const entry of entries) if (!this.handed.has(entry.id)) this.deliver(entry);
  }

  /**
   * The outbox as the state file holds it: claims what gone processes left (or released) and
   * delivers it; watches the owners of the rest until they are gone too.
   */
  take(document: StateDocument): Promise<void> {
    this.claiming = this.claiming.then(() => this.claim(document.outbox ?? [])).catch(() => undefined);
    return this.claiming;
  }

  /** Resolves once the claims under way are written (and their entries handed out). */
  idle(): Promise<void> {
    return this.claiming;
  }

  /** Stops claiming. Deliveries already handed out still settle (done or release). */
  close(): void {
    this.closed = true;
    clearInterval(this.watcher);
    this.watcher = undefined;
  }

  private async claim(entries: readonly OutboxEntry[]): Promise<void> {
    if (this.closed) return;
    const { self, alive } = this.options;
    const claims: { id: string; from: RecordOwner | null }[] = [];
    const foreign: OutboxEntry[] = [];
    for (const entry of entries) {
      if (this.handed.has(entry.id)) continue;
      if (sameOwner(entry.owner, self)) {
        // Ours, and its settle failed: deliver it again. Any other entry of ours is in hand, or
        // settled already and read here from a copy of the file older than that settle.
        if (this.lost.delete(entry.id)) this.deliver(entry);
      } else if (entry.owner === null || !alive(entry.owner)) claims.push({ id: entry.id, from: entry.owner });
      else foreign.push(entry);
    }
    this.watchOwners(foreign);
    if (claims.length === 0) return;
    const result = await this.options.store.commit([], { by: self, claim: claims });
    this.reportTrimmed(result.trimmed ?? []);
    const dropped: OutboxEntry[] = [];
    for (const entry of result.claimed ?? []) {
      if (entry.attempts > OUTBOX_MAX_ATTEMPTS) dropped.push(entry);
      else this.deliver(entry);
    }
    if (dropped.length === 0) return;
    await this.options.store.commit([], { by: self, remove: dropped.map((e) => e.id) });
    for (const entry of dropped) {
      this.options.consumer.dropped?.(
        { ...entry.transition, origin: 'here' },
        `its delivery was cut short (or its deliverer died) ${OUTBOX_MAX_ATTEMPTS} times: run 'warden watch' to give slow hooks the time they need`,
      );
    }
  }

  /** Entries owned by live processes: looked at again every second, claimed when their owner is gone. */
  private watchOwners(foreign: OutboxEntry[]): void {
    this.foreign = foreign;
    if (foreign.length === 0 || this.closed) {
      clearInterval(this.watcher);
      this.watcher = undefined;
      return;
    }
    this.watcher ??= setInterval(() => {
      if (this.foreign.some((entry) => entry.owner && !this.options.alive(entry.owner))) {
        this.claiming = this.claiming.then(() => this.claim(this.foreign)).catch(() => undefined);
      }
    }, WATCH_OWNERS_MS);
    this.watcher.unref();
  }

  private deliver(entry: OutboxEntry): void {
    this.handed.add(entry.id);
    this.options.consumer.deliver({
      transition: { ...entry.transition, origin: 'here' },
      hooks: entry.hooks,
      cwd: entry.cwd,
      attempts: entry.attempts,
      done: () => this.settle(this.removals, entry.id),
      release: (started) => this.settle(started ? this.releases : this.unclaims, entry.id),
    });
  }

  /** Queues a removal or a release; those queued together are written in one commit. */
  private settle(into: Set<string>, id: string): Promise<void> {
    into.add(id);
    this.settling ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      this.settling = null;
      const remove = [...this.removals];
      const release = [...this.releases];
      const unclaim = [...this.unclaims];
      this.removals.clear();
      this.releases.clear();
      this.unclaims.clear();
      const ids = [...remove, ...release, ...unclaim];
      try {
        await this.options.store.commit([], { by: this.options.self, remove, release, unclaim });
      } catch (err) {
        // Still ours in the file: delivered again by the next take (at least once), or by the
        // next process once this one is gone.
        for (const id of ids) this.lost.add(id);
        throw err;
      } finally {
        for (const id of ids) this.handed.delete(id);
      }
    });
    return this.settling;
  }

  private reportTrimmed(trimmed: readonly OutboxEntry[]): void {
    for (const entry of trimmed) {
      this.options.consumer.dropped?.({ ...entry.transition, origin: 'here' }, 'the outbox was full (its oldest transitions are dropped first)');
    }
  }
}
