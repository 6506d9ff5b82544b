/**
 * Model-based tests: `xstate/graph` walks the session machine and generates the paths that take
 * every transition; each path is run against the real engine and a real tmux server, doing the
 * real thing for every event (kill the window, let the program exit, bring a tagged window back,
 * spawn/end through the engine, fail a tmux verb), and after every step the durable state of the
 * actor is compared with what tmux shows. Coverage is measured on the engine's own actors through
 * XState inspection (the transitions each microstep took), not on the model.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnyEventObject, AnyStateMachine, AnyTransitionDefinition, InspectionEvent, SnapshotFrom } from 'xstate';
import { getAdjacencyMap, adjacencyMapToArray, getShortestPaths, getStateNodes, joinPaths, type StatePath } from 'xstate/graph';
import { isActive, isExited, stateString } from '../machines/paths.js';
import { sessionMachine, type SessionEvent } from '../machines/session.js';
import { WardenError } from '../src/model/errors.js';
import { StateDocumentSchema, type SessionRecord } from '../src/model/schema.js';
import { panesBySession } from '../src/tmux/commands.js';
import { tmuxWithFaultSwitch } from './support/fault-tmux.js';
import { persistedIn, spec as launchSpec, writeRecord } from './support/snapshots.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

type Snapshot = SnapshotFrom<typeof sessionMachine>;
type Path = StatePath<Snapshot, AnyEventObject>;
const isInit = (e: AnyEventObject) => e.type === 'xstate.init';

// ---------------------------------------------------------------- the model

/**
 * Shows a `ready> ` prompt and waits for one line on stdin, then exits 3: `send` makes it exit for
 * real. Keys typed without Enter are output (the terminal echoes them) that leaves it running.
 */
const PROGRAM = ['sh', '-c', 'printf "ready> "; read reply; exit 3'];
/** Its activity profile: the prompt alone at the bottom is waiting; anything typed after it, idle. */
const PROFILES = { model: { commands: ['printf'], quietMs: 300, waiting: ['ready> ?$'] } };
const SIGNAL_AT = { at: 'signal', outputAt: 0 };
const EXIT_ON_INPUT = 3;
const FOUND_DEAD_EXIT = 4;
const CRASH_DEAD_EXIT = 5;
const SPAWN_AT = { normal: 'spawn-normal', resume: 'spawn-resume', fresh: 'spawn-fresh', ensure: 'spawn-ensure' } as const;
/**
 * A fresh spawn asks for a restart policy: its sessions restart once by themselves (with no wait)
 * and then give up, so the restart rows are walked too.
 */
const RESTART = { policy: 'always', maxRestarts: 1, backoffMs: 0, maxBackoffMs: 0 } as const;
/** A restart due whenever the model asks: the engine's own clock decides it for real. */
const DUE = '9999-12-31T23:59:59.999Z';
const window: { windowId: string; paneId: string; pid: number; dead: boolean; exitStatus: number | null } = {
  windowId: '@0',
  paneId: '%0',
  pid: 1,
  dead: false,
  exitStatus: null,
};
const injected = { code: 'TMUX_FAILED', message: 'injected', stderr: '' };

/** The model's state: the state value, plus what decides which events the engine can send next. */
function modelState(s: Snapshot): string {
  const value = stateString(s.value);
  // A session with a restart policy behaves by its count of restarts: keep them apart.
  const restarts = s.context.spec?.restart ? `#r${s.context.restarts ?? 0}` : '';
  // A signal holds the activity until output: the machine takes other events there.
  if (value.startsWith('active.running') && s.context.activity?.source === 'signal') return `${value}+signal`;
  // How a launch is done (new window, respawn in place, relaunch) changes what a failure rolls back.
  if (value === 'spawning') return `spawning:${s.context.launch}${restarts}`;
  if (value !== 'ending') return value === 'normal' ? value : `${value}${restarts}`;
  return `ending${s.context.next ? '+next' : ''}${s.context.error ? '+error' : ''}`;
}

/** `spawning` and an `ending` without error run a service: the engine never rests there. */
function atRest(state: string): boolean {
  return !state.startsWith('spawning') && state !== 'ending' && state !== 'ending+next';
}

function eventName(e: AnyEventObject): string {
  const event = e as SessionEvent | { type: string; output?: { dead?: boolean }; window?: { dead?: boolean } };
  if (event.type === 'SPAWN' && 'mode' in event) return `SPAWN ${event.mode}`;
  const service = /^xstate\.(done|error)\.actor\.(launch|cleanup)$/.exec(event.type);
  if (service) {
    const dead = 'output' in event && event.output?.dead ? ' (pane dead)' : '';
    return `${service[2]} ${service[1] === 'done' ? 'done' : 'error'}${dead}`;
  }
  if (event.type === 'WINDOW_FOUND' && 'window' in event && event.window?.dead) return 'WINDOW_FOUND (pane dead)';
  if ((event.type === 'SIGNAL' || event.type === 'QUIET') && 'activity' in event) return `${event.type} ${event.activity}`;
  return event.type;
}

/** What can happen in each state, in the engine's terms. */
function eventsIn(s: Snapshot): SessionEvent[] {
  const state = modelState(s);
  if (state.startsWith('spawning')) {
    const events = [
      { type: 'xstate.done.actor.launch', output: window },
      { type: 'xstate.error.actor.launch', error: injected },
    ];
    // A launch reports a dead pane only when it adopts the window of a process that crashed in
    // `spawning`: the test makes that happen for a first spawn.
    if (s.context.createdAt === SPAWN_AT.normal && s.context.launch === 'create') {
      events.push({ type: 'xstate.done.actor.launch', output: { ...window, dead: true, exitStatus: CRASH_DEAD_EXIT } });
    }
    return events as unknown as SessionEvent[];
  }
  if (state === 'ending' || state === 'ending+next') {
    return [{ type: 'xstate.done.actor.cleanup' }, { type: 'xstate.error.actor.cleanup', error: injected }] as unknown as SessionEvent[];
  }
  if (state.startsWith('ending')) return [{ type: 'RETRY' }];
  // Resume and ensure keep the stored spec, as the engine does; fresh asks for a restart policy.
  const specFor = (mode: keyof typeof SPAWN_AT) =>
    mode === 'fresh' ? { ...launchSpec(PROGRAM), restart: { ...RESTART } } : mode === 'normal' ? launchSpec(PROGRAM) : s.context.spec ?? launchSpec(PROGRAM);
  const spawn = (mode: keyof typeof SPAWN_AT): SessionEvent => ({
    type: 'SPAWN',
    mode,
    sessionId: `model-${mode}`,
    spec: specFor(mode),
    at: SPAWN_AT[mode],
  });
  const activity: SessionEvent[] = [
    { type: 'SIGNAL', activity: 'busy', ...SIGNAL_AT },
    { type: 'SIGNAL', activity: 'idle', ...SIGNAL_AT },
    { type: 'SIGNAL', activity: 'waiting', ...SIGNAL_AT },
    { type: 'OUTPUT', at: 'output', outputAt: 1 },
    { type: 'QUIET', activity: 'waiting', source: 'pattern', at: 'quiet', outputAt: 1, matched: 'ready>' },
    { type: 'QUIET', activity: 'idle', source: 'silence', at: 'quiet', outputAt: 1, matched: null },
  ];
  // The lifecycle events are the same transitions from every activity: taken from busy only.
  // (A restart policy's count, `#rN`, does not change which events a state takes.)
  const base = state.replace(/#r\d+$/, '');
  if (base.startsWith('active.running') && base !== 'active.running.busy') return activity;
  return [
    ...(base === 'active.running.busy' ? activity : []),
    spawn('normal'),
    spawn('resume'),
    spawn('fresh'),
    spawn('ensure'),
    { type: 'RESTART', at: DUE },
    { type: 'END' },
    { type: 'WINDOW_GONE' },
    { type: 'PANE_EXITED', exitStatus: EXIT_ON_INPUT },
    { type: 'WINDOW_FOUND', window },
    { type: 'WINDOW_FOUND', window: { ...window, dead: true, exitStatus: FOUND_DEAD_EXIT } },
  ];
}

const traversal = {
  input: { key: 'model' },
  events: eventsIn,
  // Only events the machine takes (a transition, even one without a target) are edges.
  filterEvents: (s: Snapshot, e: SessionEvent) => s.machine.getTransitionData(s as never, e as never).length > 0,
  serializeState: (s: Snapshot) => modelState(s),
  serializeEvent: (e: SessionEvent) => eventName(e),
};

function pathKey(path: Path): string[] {
  return path.steps.filter((s) => !isInit(s.event)).map((s) => `${eventName(s.event)}→${modelState(s.state)}`);
}

/**
 * One path per edge of the graph: the shortest path to its source, the edge, then the shortest
 * way to rest (the services succeeding); paths that are a prefix of another are dropped.
 */
function transitionPaths(machine: AnyStateMachine): Path[] {
  const logic = machine as unknown as typeof sessionMachine;
  const toState = new Map(getShortestPaths(logic, traversal).map((p) => [modelState(p.state), p as Path]));
  const edges = adjacencyMapToArray(getAdjacencyMap(logic, traversal as never)) as {
    state: Snapshot;
    event: SessionEvent;
    nextState: Snapshot;
  }[];
  const paths: Path[] = [];
  for (const edge of edges) {
    const head = toState.get(modelState(edge.state))!;
    let path: Path = joinPaths(head, {
      state: edge.nextState,
      steps: [
        { event: { type: 'xstate.init' }, state: head.state },
        { event: edge.event, state: edge.nextState },
      ],
      weight: 1,
    });
    if (!atRest(modelState(path.state))) {
      const rests = getShortestPaths(logic, { ...traversal, fromState: path.state, toState: (s: Snapshot) => atRest(modelState(s)) } as never) as Path[];
      const ok = rests
        .filter((p) => atRest(modelState(p.state)) && p.steps.every((s) => !s.event.type.startsWith('xstate.error')))
        .sort((a, b) => a.steps.length - b.steps.length)[0]!;
      path = joinPaths(path, ok);
    }
    paths.push(path);
  }
  const keys = paths.map((p) => pathKey(p).join(' '));
  return paths.filter((_, i) => !keys.some((k, j) => j !== i && k.startsWith(keys[i]!) && (k !== keys[i] || j < i)));
}

// ---------------------------------------------------------------- the real world

const server = useTmuxServer('model');
const faults = tmuxWithFaultSwitch(server.dir);
const stateFile = server.stateFile();
const taken = new Set<string>();
const visited = new Set<string>();
let stepsRun = 0;

function transitionId(t: AnyTransitionDefinition): string {
  const source = t.source as unknown as { id: string; transitions: Map<string, AnyTransitionDefinition[]>; always?: AnyTransitionDefinition[] };
  // An eventless (`always`) transition is not in the map of event transitions.
  const list = t.eventType === '' ? source.always ?? [] : source.transitions.get(t.eventType)!;
  return `${source.id} ${t.eventType || 'always'} #${list.indexOf(t)}`;
}

/** Every state a session can rest or work in: the atomic state nodes, as dotted paths. */
function allStates(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => node.type === 'atomic')
    .map((node) => node.path.join('.'));
}

function allTransitions(machine: AnyStateMachine): string[] {
  return getStateNodes(machine.root).flatMap((node) => [...node.transitions.values(), node.always ?? []].flat().map(transitionId));
}

/** Every transition a session actor of the engine took, as the inspector sees it. */
function recordTaken(event: InspectionEvent): void {
  if (event.type !== '@xstate.microstep') return;
  if ((event.actorRef as unknown as { _parent?: unknown })._parent) return;
  for (const t of event._transitions) taken.add(transitionId(t));
  visited.add(stateString((event.snapshot as unknown as { value: unknown }).value));
}

/**
 * A repository for the worktrees of normal spawns: their workspace steps (WORKSPACE_READY on
 * launch, WINDOW_CLOSED and WORKSPACE_RELEASED on cleanup) are transitions of the machine too.
 */
const repo = join(server.dir, 'model-repo');
const engineReady = (async () => {
  mkdirSync(repo);
  const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  await execa('git', ['-C', repo, 'init', '-q', '-b', 'main'], { env });
  await execa('git', ['-C', repo, 'commit', '-q', '--allow-empty', '-m', 'init'], { env });
  // An untagged window keeps the group alive when every session window is gone (and must survive).
  await server.tmux.run(['new-session', '-d', '-s', 'warden', '-n', 'keeper', 'sleep', '600']);
  return server.engine({ stateFile, tmuxBin: faults.bin, inspect: recordTaken, profiles: PROFILES });
})();

afterAll(() => faults.heal());

function recordOf(key: string): SessionRecord | undefined {
  if (!existsSync(stateFile)) return undefined;
  return StateDocumentSchema.parse(JSON.parse(readFileSync(stateFile, 'utf8'))).sessions[key];
}

async function panesOf(sessionId: string) {
  const probe = await server.tmux.probeAll();
  expect(probe.kind).toBe('ok');
  return probe.kind === 'ok' ? panesBySession(probe.panes).get(sessionId) ?? [] : [];
}

/** The durable state of the actor equals the model's, and tmux shows what that state means. */
async function expectMatchesTmux(key: string, expected: Snapshot, lastSessionId: string | null): Promise<string | null> {
  const state = modelState(expected).replace(/#r\d+$/, '');
  const record = recordOf(key);
  if (state === 'normal') {
    expect(record, `${key} has no record in normal`).toBeUndefined();
    if (lastSessionId) expect(await panesOf(lastSessionId), 'no window carries the id of a session in normal').toEqual([]);
    return lastSessionId;
  }
  expect(record, `${key} is ${state}`).toBeDefined();
  const context = record!.snapshot.context;
  expect(modelState({ value: record!.snapshot.value, context } as unknown as Snapshot)).toBe(modelState(expected));
  const panes = await panesOf(context.sessionId!);
  switch (state.startsWith('active.running') ? 'active.running' : state) {
    case 'active.running':
      expect(panes).toHaveLength(1);
      expect(panes[0]).toMatchObject({ windowId: context.windowId, paneId: context.paneId, dead: false });
      // In a window of ours, named by its key (a pane moved into a window of the user's keeps that name).
      if (panes[0]!.tag === context.sessionId) expect(panes[0]!.windowName).toBe(key);
      expect(context.exitStatus).toBeNull();
      break;
    case 'active.exited.stopped':
    case 'active.exited.backoff':
    case 'active.exited.gaveUp':
      expect(panes).toHaveLength(1);
      expect(panes[0]).toMatchObject({ windowId: context.windowId, paneId: context.paneId, dead: true });
      expect(context.exitStatus).toBe(panes[0]!.exitStatus ?? 0);
      break;
    case 'orphaned':
      expect(panes, 'no window carries the id of an orphaned session').toEqual([]);
      expect(context.windowId).toBeNull();
      break;
    default:
      // ending+error: tmux did not answer the cleanup; the error is plain data, the record stays.
      expect(context.error).toEqual({ code: expect.any(String), message: expect.stringContaining('injected'), stderr: expect.any(String) });
  }
  return context.sessionId;
}

/** Runs `call`, which must fail with a WardenError exactly when the model says the step fails. */
async function expectOutcome(call: Promise<unknown>, fails: boolean): Promise<void> {
  if (fails) await expect(call).rejects.toBeInstanceOf(WardenError);
  else await call;
}

/**
 * Until tmux shows the pane dead, and its exit status if tmux reports one. tmux 3.3a can show a
 * pane dead a moment before its status (the pty closes before the child is reaped): that moment
 * is not the event, so the status is waited for. Under load it sometimes never reports one (no
 * status, no signal); the engine then records 0, and `expectMatchesTmux` allows exactly that.
 */
async function exitSeen(sessionId: string, paneId: string): Promise<void> {
  const pane = async () => (await panesOf(sessionId)).find((p) => p.paneId === paneId);
  await waitFor(async () => (await pane())?.dead, 'tmux to show the program exited');
  await waitFor(async () => (await pane())?.exitStatus !== null, 'its exit status', { timeoutMs: 2000 }).catch(() => undefined);
}

async function launchTagged(key: string, sessionId: string, command: string[]) {
  return server.tmux.launchWindow({ group: 'warden', name: key, sessionId, command });
}

/** A tagged window whose program has exited with `status` (told to, once its window is up). */
async function launchExited(key: string, sessionId: string, status: number): Promise<void> {
  const made = await launchTagged(key, sessionId, ['sh', '-c', `read reply; exit ${status}`]);
  await server.tmux.sendText(made.paneId, 'bye');
  await exitSeen(sessionId, made.paneId);
}

/**
 * The session's pane found elsewhere than recorded, for real: moved into a window of the user's
 * (join-pane), exited there when it is to be found dead; or, already exited, restarted by hand
 * (respawn-pane) when it is to be found alive.
 */
async function followPane(context: { sessionId: string | null; paneId: string | null }, dead: boolean, exited: boolean): Promise<void> {
  const paneId = context.paneId!;
  if (exited && !dead) {
    await server.tmux.run(['respawn-pane', '-k', '-t', paneId, '--', ...PROGRAM]);
    return;
  }
  const userWindow = (await server.tmux.run(['new-window', '-d', '-t', '=warden:', '-P', '-F', '#{window_id}', 'sleep', '600'])).trim();
  await server.tmux.run(['join-pane', '-d', '-s', paneId, '-t', userWindow]);
  if (dead && !exited) {
    await server.tmux.sendText(paneId, 'bye');
    await exitSeen(context.sessionId!, paneId);
  }
}

/**
 * Does for real what one trigger event and the service outcomes after it (up to rest) stand for.
 */
async function perform(key: string, trigger: SessionEvent, outcomes: string[], end: Snapshot): Promise<void> {
  const engine = await engineReady;
  const record = recordOf(key);
  const context = record?.snapshot.context;
  const endState = modelState(end);
  const failsLaunch = outcomes.includes('launch error');
  const failsCleanup = outcomes.includes('cleanup error');
  faults.fail(...(failsLaunch ? ['new-window', 'respawn-pane'] : []), ...(failsCleanup ? ['list-panes'] : []));
  try {
    switch (trigger.type) {
      case 'SPAWN': {
        if (outcomes[0] === 'launch done (pane dead)') {
          // A process crashed in `spawning` after its window came up, and the program has exited
          // since: the next process resumes the launch and adopts that window.
          const sessionId = randomUUID();
          await writeRecord(stateFile, key, await persistedIn('spawning', key, launchSpec(PROGRAM), sessionId));
          await launchExited(key, sessionId, CRASH_DEAD_EXIT);
          await engine.reconcile();
          return;
        }
        const fails = endState === 'normal' || endState.endsWith('+error');
        // Normal spawns run in a worktree, fresh ones ask for a restart policy, as the model's events say.
        const command =
          trigger.mode === 'resume'
            ? {}
            : trigger.mode === 'normal'
              ? { command: PROGRAM, worktree: { repo } }
              : { command: PROGRAM, ...(trigger.mode === 'fresh' ? { restart: RESTART } : {}) };
        await expectOutcome(engine.spawn(key, { mode: trigger.mode, ...command }), fails);
        return;
      }
      case 'END':
        await expectOutcome(engine.end(key), failsCleanup);
        return;
      case 'RETRY':
        // `end` retries a failed cleanup, as the next reconcile does; a reconcile could not be
        // used while tmux fails, its probe would be unknown and send nothing.
        if (failsCleanup) await expectOutcome(engine.end(key), true);
        // The retried cleanup may hand over to a fresh spawn's launch: reconcile until it is where the path goes.
        else await settled(engine, key, endState);
        return;
      case 'WINDOW_GONE':
        await server.tmux.run(['kill-window', '-t', context!.windowId!]);
        await engine.reconcile();
        return;
      case 'PANE_EXITED':
        await engine.send(key, 'bye');
        await exitSeen(context!.sessionId!, context!.paneId!);
        await engine.reconcile();
        return;
      case 'RESTART':
        // The restart's deadline (no wait) has passed: the next reconcile restarts the session.
        await engine.reconcile();
        return;
      case 'WINDOW_FOUND': {
        if (record && isActive(record.snapshot.value)) await followPane(context!, trigger.window.dead, isExited(record.snapshot.value));
        else if (trigger.window.dead) await launchExited(key, context!.sessionId!, FOUND_DEAD_EXIT);
        else await launchTagged(key, context!.sessionId!, PROGRAM);
        await engine.reconcile();
        return;
      }
      case 'SIGNAL':
        await engine.signal(key, trigger.activity);
        return;
      case 'OUTPUT': {
        // Output within a second of a signal is its echo: the program prints after that.
        const since = Date.parse(context!.activity!.since);
        await waitFor(() => Date.now() > since + 1100, 'a second after the decision');
        await server.tmux.run(['send-keys', '-t', context!.paneId!, '-l', 'x', ';', 'send-keys', '-t', context!.paneId!, 'BSpace']);
        await settled(engine, key, endState);
        return;
      }
      case 'QUIET':
        // Waiting: the prompt alone at the bottom (erase what was typed); idle: a key typed after it.
        if (trigger.activity === 'waiting') await server.tmux.run(['send-keys', '-t', context!.paneId!, 'BSpace', 'BSpace', 'BSpace']);
        else await server.tmux.run(['send-keys', '-t', context!.paneId!, '-l', 'x']);
        await settled(engine, key, endState);
        return;
    }
  } finally {
    faults.heal();
  }
}

/** Reconciles until the session's durable state is `state` (quiet takes its quiet period). */
async function settled(engine: Awaited<typeof engineReady>, key: string, state: string): Promise<void> {
  await waitFor(async () => {
    await engine.reconcile();
    const record = recordOf(key);
    // `normal` has no record.
    if (!record) return state === 'normal';
    return modelState({ value: record.snapshot.value, context: record.snapshot.context } as unknown as Snapshot) === state;
  }, `${key} ${state}`, { timeoutMs: 15_000, intervalMs: 50 });
}

async function run(path: Path, key: string): Promise<void> {
  const steps = path.steps.filter((s) => !isInit(s.event));
  let lastSessionId: string | null = null;
  for (let i = 0; i < steps.length; ) {
    const trigger = steps[i]!;
    const outcomes: string[] = [];
    let j = i;
    while (!atRest(modelState(steps[j]!.state))) {
      j += 1;
      outcomes.push(eventName(steps[j]!.event));
    }
    await perform(key, trigger.event as SessionEvent, outcomes, steps[j]!.state);
    stepsRun += j - i + 1;
    lastSessionId = await expectMatchesTmux(key, steps[j]!.state, lastSessionId);
    i = j + 1;
  }
}

// ---------------------------------------------------------------- the tests

const paths = transitionPaths(sessionMachine);
const total = allTransitions(sessionMachine);

describe('model-based: xstate/graph paths over the session machine, run against the engine and tmux', () => {
  paths.forEach((path, i) => {
    it(['normal', ...pathKey(path)].join('  '), async () => {
      await run(path, `path-${i}`);
    });
  });

  it('reached every state and took every transition of the machine, and left the untagged window alone', async () => {
    const missing = total.filter((t) => !taken.has(t));
    const states = allStates(sessionMachine);
    const percent = ((100 * (total.length - missing.length)) / total.length).toFixed(0);
    process.stdout.write(
      `model-based: ${total.length - missing.length}/${total.length} transitions (${percent} %), ` +
        `${states.filter((st) => visited.has(st)).length}/${states.length} states, over ${paths.length} paths, ${stepsRun} steps\n`,
    );
    expect(missing).toEqual([]);
    expect(states.filter((st) => !visited.has(st))).toEqual([]);
    const probe = await server.tmux.probeAll();
    expect(probe.kind === 'ok' && probe.panes.some((p) => p.windowName === 'keeper' && p.tag === '')).toBe(true);
  });
});
