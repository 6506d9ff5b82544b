/**
 * The engine's collaborators wired together: the durable view, the actor pool, the write-behind,
 * ownership and the services, over one store and one tmux. The façade (`engine.ts`) and the
 * reconcile and spawn steps work through this; none of them builds an adapter.
 */
import { fromPromise, getInitialSnapshot, type InspectionEvent, type Observer } from 'xstate';
import { serviceStatesOf, type ServiceStates } from '../../machines/paths.js';
import type { CleanupInput, LaunchInput, LaunchOutput, SessionEvent, SessionMachine } from '../../machines/session.js';
import { WardenError } from '../model/errors.js';
import type { PersistedSnapshot, ServerIdentity } from '../model/schema.js';
import type { SessionStore } from '../store/store.js';
import type { Tmux } from '../tmux/commands.js';
import type { ProfileBook } from '../activity/profiles.js';
import { ActivityReader } from './activity.js';
import { ActorPool } from './actor-pool.js';
import { DurableView } from './durable-view.js';
import { LogUpkeep } from './log-upkeep.js';
import { Outbox } from './outbox.js';
import { Ownership, ownerAlive, selfOwner } from './ownership.js';
import { PureStepper } from './pure-step.js';
import { SessionServices, type ServiceOptions } from './services.js';
import type { SessionLogSink, TransitionListener, TransitionOutbox } from './types.js';
import type { Workspaces } from './workspaces.js';
import { WriteBehind } from './write-behind.js';

export interface CoreOptions {
  stateFile: string;
  group: string;
  tmux: Tmux;
  store: SessionStore;
  logs: SessionLogSink;
  probeTimeoutMs: number;
  inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
  onTransition?: TransitionListener | undefined;
  /** Who delivers the outbox's transitions (the hooks). */
  outbox?: TransitionOutbox | undefined;
  /** The statechart: the session machine, or a variant of it (another substate, a region). */
  machine: SessionMachine;
  /** The activity profiles: built-ins and the user's. */
  profiles: ProfileBook;
  /** Git worktrees for sessions that ask for one. */
  workspaces: Workspaces;
  /** See `ServiceOptions`. */
  services: ServiceOptions;
}

export class EngineCore {
  readonly stateFile: string;
  readonly group: string;
  readonly tmux: Tmux;
  readonly store: SessionStore;
  readonly logs: SessionLogSink;
  readonly workspaces: Workspaces;
  readonly probeTimeoutMs: number;
  readonly machine;
  /** Which of the machine's states run a service: this machine's, a variant's new ones included. */
  readonly states: ServiceStates;
  readonly view: DurableView;
  readonly pool: ActorPool;
  readonly writes: WriteBehind;
  readonly owners: Ownership;
  readonly services: SessionServices;
  readonly steps: PureStepper;
  readonly activity: ActivityReader;
  readonly upkeep: LogUpkeep;
  readonly outbox: Outbox | undefined;
  private readonly inspecting: boolean;
  private closed = false;

  constructor(options: CoreOptions) {
    this.stateFile = options.stateFile;
    this.group = options.group;
    this.tmux = options.tmux;
    this.store = options.store;
    this.logs = options.logs;
    this.workspaces = options.workspaces;
    this.probeTimeoutMs = options.probeTimeoutMs;
    this.inspecting = options.inspect !== undefined;
    this.machine = options.machine.provide({
      actors: {
        launchWindow: fromPromise<LaunchOutput, LaunchInput>(({ input, signal }) => this.services.launch(input, signal)),
        cleanupWindow: fromPromise<void, CleanupInput>(({ input, signal }) => this.services.cleanup(input, signal)),
      },
    });
    this.states = serviceStatesOf(this.machine);
    this.view = new DurableView(this.store, (key, before, after) => {
      this.forgetKey(key, after ? 'changed by another process' : 'ended by another process');
      this.writes.reportFromFile(key, before, after);
    }, this.machine);
    this.pool = new ActorPool({
      machine: this.machine,
      inspect: options.inspect,
      snapshotOf: (key) => this.currentSnapshot(key),
      onStep: (step) => this.writes.takeStep(step),
      onFailure: (key, message) => this.view.setProblem(key, message),
    });
    this.outbox = options.outbox
      ? new Outbox({ store: this.store, consumer: options.outbox, self: selfOwner(), alive: ownerAlive })
      : undefined;
    this.writes = new WriteBehind({
      outbox: this.outbox,
      store: this.store,
      view: this.view,
      pool: this.pool,
      group: this.group,
      logFileOf: (key, sessionId) => this.logs.logFile(key, sessionId),
      owner: () => this.owners.owner(),
      runsService: this.states.runsService,
      onConflict: (key, before, current) => {
        this.forgetKey(key, 'changed by another process');
        this.view.forget(key);
        if (current) this.view.adopt(key, current);
        this.writes.reportFromFile(key, before, current ?? undefined);
      },
    });
    this.owners = new Ownership(this.view, this.pool, this.writes, () => this.closed, this.states);
    this.services = new SessionServices(this.tmux, this.view, this.pool, this.writes, this.owners, this.workspaces, this.logs, options.services);
    this.tmux.expectServers(() => this.recordedServers());
    this.steps = new PureStepper(this.machine);
    this.activity = new ActivityReader(this.tmux, options.profiles);
    this.upkeep = new LogUpkeep(this.logs, this.view);
    if (options.onTransition) this.writes.subscribe(options.onTransition);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new WardenError('STATE_IO', 'the engine is closed: create a new one');
  }

  /** Reads the state file and rehydrates; resumes abandoned work unless `resume: false`. */
  async open(options: { resume?: boolean } = {}): Promise<void> {
    const document = await this.view.load();
    void this.outbox?.take(document);
    if (options.resume !== false) this.owners.resumeAbandoned();
    this.showToInspector();
  }

  /** Picks up what other processes wrote since we last looked (one stat when nothing changed). */
  async sync(force = false) {
    const document = await this.view.sync(force);
    if (document) {
      void this.outbox?.take(document);
      this.owners.resumeAbandoned();
      this.showToInspector();
    }
    return document;
  }

  /** Forgets our in-memory actor and pending change of a key (without writing anything). */
  forgetKey(key: string, reason: string): void {
    this.pool.stop(key);
    this.writes.forget(key, reason);
  }

  /** A key without an actor: its pure next snapshot not yet written, else its durable one. */
  currentSnapshot(key: string): PersistedSnapshot | undefined {
    return this.writes.pendingSnapshot(key) ?? this.view.record(key)?.snapshot;
  }

  /** The key's snapshot as the machine sees it (its actor's, or one resolved from the file), to ask `can`. */
  machineSnapshot(key: string) {
    const actor = this.pool.get(key);
    if (actor) return actor.getSnapshot();
    const current = this.currentSnapshot(key);
    if (!current) return getInitialSnapshot(this.machine, { key });
    return this.machine.resolveState({ value: current.value as never, context: current.context as never });
  }

  dispatch(key: string, event: SessionEvent): void {
    this.assertOpen();
    this.pool.send(key, event);
  }

  /** Waits until every pending change is durable and every in-flight service has settled. */
  async settle(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.writes.flush();
      this.writes.throwIfStuck();
      const inFlight = this.pool.entries().some(([key, actor]) => !this.owners.isParked(key) && this.states.isInFlight(actor.getSnapshot()));
      if (!inFlight && this.writes.idle) return;
      if (inFlight) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The tmux servers the records say hold their windows (invariant 9), each once. */
  *recordedServers(): Iterable<ServerIdentity> {
    const seen = new Set<string>();
    for (const [, record] of this.view.entries()) {
      const server = record.snapshot.context.server;
      if (!server || seen.has(`${server.pid}:${server.startTicks}`)) continue;
      seen.add(`${server.pid}:${server.startTicks}`);
      yield server;
    }
  }

  /** Stops every actor and fails every waiter; pending changes are written first. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writes.flush().catch(() => undefined);
    // What it claimed while opening is in its consumer's hands: wait for the claim to be written.
    await this.outbox?.idle();
    this.outbox?.close();
    this.pool.stopAll();
    this.writes.rejectWaiters(null, new WardenError('STATE_IO', 'the engine was closed'));
    this.writes.clearListeners();
  }

  /**
   * With an inspector attached, every session gets its actor now, not when something first
   * happens to it, so the inspector shows them all. Only records at rest: no service runs in
   * those states, so creating the actor does nothing; `spawning`/`ending` get theirs when resumed.
   */
  private showToInspector(): void {
    if (!this.inspecting || this.closed) return;
    for (const [key, record] of this.view.entries()) {
      if (this.view.problem(key) || this.pool.has(key) || this.states.runsService(record.snapshot.value)) continue;
      this.pool.actorFor(key);
    }
  }
}
