/**
 * The crash-anywhere torture: rounds of `warden` CLI processes doing spawn / resume / fresh / end
 * on distinct keys at once, most of them SIGKILLed at a random moment or paused (SIGSTOP, at a
 * random moment or right before replacing the state file) and later resumed or killed, then one
 * `warden ls` that must converge. Every choice comes from a seeded PRNG, so a failing seed replays the same plan
 * (the exact moment a kill lands still depends on the machine's speed).
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import type { SessionInfo } from '../../src/model/schema.js';
import { Tmux } from '../../src/tmux.js';
import { CLI, processStopped, readState, startWarden, type CliTarget } from './warden-cli.js';

/** mulberry32: tiny, fast, good enough to pick moments and keys reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type TortureOp = 'spawn' | 'resume' | 'fresh' | 'end';

export interface TortureOptions {
  target: CliTarget;
  seed: number;
  /** Stop after this many rounds… */
  rounds?: number;
  /** …or once this many processes have been killed (whichever is given; rounds wins if both). */
  minKills?: number;
  /** Processes started at once in each round (each on its own key). */
  parallel: number;
  /** Size of the key pool. */
  keys: number;
  /** A timed kill lands uniformly in [80, maxDelayMs] ms after the process starts. */
  maxDelayMs: number;
  /** Chance that a process is sent SIGKILL (without a pause first). */
  killChance?: number;
  /** Chance that a process is paused (SIGSTOP), then resumed or killed. */
  pauseChance?: number;
  /** A pause lasts uniformly 100–maxPauseMs ms. */
  maxPauseMs?: number;
  log?: (line: string) => void;
}

export interface TortureFigures {
  seed: number;
  rounds: number;
  processes: number;
  parallel: number;
  kills: number;
  /** Kills aimed a few ms after the process's first write to its key. */
  killsAfterWrite: number;
  /** Processes stopped with SIGSTOP (at a random moment, or by themselves right before replacing the file), then resumed or killed. */
  pauses: number;
  pausesBeforeReplace: number;
  /** Of the pauses, those ended with SIGKILL while stopped. */
  pausesKilled: number;
  killsByOp: Record<TortureOp, number>;
  completedByOp: Record<TortureOp, number>;
  windowsKilledBehindOurBack: number;
  panesExited: number;
  /** Records found in `spawning`/`ending` right after a round's kills (then finished by one ls). */
  leftInFlight: number;
  recordsLost: number;
  violations: string[];
  durationMs: number;
}

type Pause = { holdMs: number; then: 'SIGCONT' | 'SIGKILL' };
type Kill =
  | { kind: 'none' }
  | { kind: 'at'; ms: number }
  | { kind: 'after-write'; ms: number }
  | ({ kind: 'pause'; ms: number } & Pause)
  | ({ kind: 'pause-before-replace' } & Pause);


/** `rev/updatedAt` of a key in the file as it is now ('' when absent or unreadable). */
function recordStamp(file: string, key: string): string {
  try {
    const record = (JSON.parse(readFileSync(file, 'utf8')) as { sessions: Record<string, { rev: number; updatedAt: string }> }).sessions[key];
    return record ? `${record.rev}/${record.updatedAt}` : '';
  } catch {
    return '';
  }
}

interface Planned {
  key: string;
  op: TortureOp;
  before: SessionInfo | undefined;
}

const COMMAND = ['sleep', '600'];

function argsFor(plan: Planned): string[] {
  switch (plan.op) {
    case 'spawn':
      return ['--json', 'spawn', plan.key, '--resume-command', 'sleep 600', '--', ...COMMAND];
    case 'resume':
      return ['--json', 'spawn', plan.key, '--mode', 'resume'];
    case 'fresh':
      return ['--json', 'spawn', plan.key, '--mode', 'fresh'];
    case 'end':
      return ['--json', 'end', plan.key];
  }
}

/** Checks the invariants after one converging `ls`; returns what is wrong (empty: all good). */
export async function checkConverged(target: CliTarget, tmux: Tmux): Promise<{ sessions: SessionInfo[]; violations: string[] }> {
  const violations: string[] = [];
  const ls = await execa(process.execPath, [CLI, '--socket', target.socket, '--state', target.state, '--json', 'ls'], {
    reject: false,
    encoding: 'utf8',
  });
  if (ls.exitCode !== 0) {
    violations.push(`warden ls exited ${ls.exitCode}: ${ls.stderr.trim()}`);
    return { sessions: [], violations };
  }
  const sessions = (JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions;
  let document;
  try {
    document = readState(target.state);
  } catch (err) {
    violations.push(`state file does not parse or validate: ${String(err)}`);
    return { sessions, violations };
  }
  const stored = new Map<string, string>();
  for (const [key, record] of Object.entries(document.sessions)) {
    const state = typeof record.snapshot.value === 'string' ? record.snapshot.value : Object.keys(record.snapshot.value)[0]!;
    stored.set(key, `${state} ${record.snapshot.context.sessionId}`);
    if (state === 'spawning' || state === 'ending') violations.push(`${key} left ${state} after ls`);
  }
  // What ls printed is what it left in the file: a session it finished is not listed as in flight.
  const listed = new Map(sessions.map((s) => [s.key, `${s.state} ${s.sessionId}`]));
  for (const key of new Set([...stored.keys(), ...listed.keys()])) {
    if (stored.get(key) !== listed.get(key)) violations.push(`ls printed ${key} as ${listed.get(key) ?? 'nothing'} but left ${stored.get(key) ?? 'nothing'} in the file`);
  }
  const probe = await tmux.probeAll();
  const panes = probe.kind === 'ok' ? probe.panes : [];
  const windowsByTag = new Map<string, Set<string>>();
  for (const pane of panes) {
    if (!pane.tag) continue;
    const set = windowsByTag.get(pane.tag) ?? new Set<string>();
    set.add(pane.windowId);
    windowsByTag.set(pane.tag, set);
  }
  const ids = new Map<string, string>();
  for (const [key, record] of Object.entries(document.sessions)) {
    const id = record.snapshot.context.sessionId;
    if (id) ids.set(id, key);
  }
  for (const [tag, windows] of windowsByTag) {
    if (!ids.has(tag)) violations.push(`tagged window(s) ${[...windows].join(',')} (${tag}) without a record`);
    if (windows.size > 1) violations.push(`session id ${tag} carried by ${windows.size} windows`);
  }
  for (const s of sessions) {
    if (s.state !== 'active') continue;
    const windows = windowsByTag.get(s.sessionId ?? '');
    if (!windows || !windows.has(s.windowId ?? '')) violations.push(`${s.key} is active but its window ${s.windowId} is not there`);
  }
  return { sessions, violations };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function planFor(random: () => number, key: string, before: SessionInfo | undefined): Planned {
  if (!before) return { key, op: 'spawn', before };
  return { key, op: pick(random, ['resume', 'fresh', 'end', 'resume', 'fresh'] as const), before };
}

/** The outcome each key must show after convergence, given its process's result. */
function lossOf(plan: Planned, result: { killed: boolean; exitCode: number | undefined; info: SessionInfo | null }, after: SessionInfo | undefined): string | null {
  const { key, op, before } = plan;
  if (!result.killed) {
    if (result.exitCode !== 0) return null; // reported as a violation of its own
    if (op === 'end') return after ? `${key}: end succeeded but the record is back` : null;
    if (!after) return `${key}: ${op} succeeded (session ${result.info?.sessionId}) but the record is gone`;
    if (after.sessionId !== result.info?.sessionId) return `${key}: ${op} made ${result.info?.sessionId} but the file holds ${after.sessionId}`;
    return null;
  }
  // Killed: any point of the operation is acceptable, but nothing that was there may vanish
  // except through the end that was asked for.
  if (op === 'resume' && (!after || after.sessionId !== before?.sessionId)) return `${key}: killed resume lost session ${before?.sessionId}`;
  if (op === 'fresh' && !after) return `${key}: killed fresh restart lost the key`;
  return null;
}

export async function torture(options: TortureOptions): Promise<TortureFigures> {
  const { target, seed, parallel, maxDelayMs, log = () => undefined } = options;
  const killChance = options.killChance ?? 0.55;
  const pauseChance = options.pauseChance ?? 0.3;
  const maxPauseMs = options.maxPauseMs ?? 3000;
  const random = prng(seed);
  const tmux = new Tmux({ socket: { name: target.socket } });
  const keys = Array.from({ length: options.keys }, (_, i) => `t${i}`);
  const figures: TortureFigures = {
    seed,
    rounds: 0,
    processes: 0,
    parallel,
    kills: 0,
    killsAfterWrite: 0,
    pauses: 0,
    pausesBeforeReplace: 0,
    pausesKilled: 0,
    killsByOp: { spawn: 0, resume: 0, fresh: 0, end: 0 },
    completedByOp: { spawn: 0, resume: 0, fresh: 0, end: 0 },
    windowsKilledBehindOurBack: 0,
    panesExited: 0,
    leftInFlight: 0,
    recordsLost: 0,
    violations: [],
    durationMs: 0,
  };
  const started = Date.now();
  let current = new Map<string, SessionInfo>();
  const more = () =>
    options.rounds !== undefined ? figures.rounds < options.rounds : figures.kills < (options.minKills ?? 100);

  while (more()) {
    figures.rounds += 1;
    const round = figures.rounds;
    // Now and then tmux changes behind everyone's back: a window killed (orphan) or a program exited.
    const live = [...current.values()].filter((s) => s.state === 'active' && s.windowId);
    if (live.length > 0 && random() < 0.25) {
      const victim = pick(random, live);
      await tmux.run(['kill-window', '-t', victim.windowId!]).catch(() => undefined);
      figures.windowsKilledBehindOurBack += 1;
    }
    if (live.length > 0 && random() < 0.2) {
      const victim = pick(random, live);
      if (victim.pid) {
        try {
          process.kill(victim.pid, 'SIGTERM');
          figures.panesExited += 1;
        } catch {
          // already gone
        }
      }
    }

    const chosen = [...keys].sort(() => random() - 0.5).slice(0, parallel);
    const plans = chosen.map((key) => planFor(random, key, current.get(key)));
    // Half the kills land at a random moment (not before node's start-up: that would test
    // nothing); the other half a few ms after the process's first write to its key, to hit the
    // short windows between "spawning/ending is durable" and "done" on purpose.
    // A pause holds the process stopped 100–maxPauseMs ms (its lock too, if it holds it: the others
    // wait), then resumes it, or one time in four kills it while stopped. Half the pauses are
    // made by the process itself right before it replaces the state file, its lock re-checked.
    const kills: Kill[] = plans.map(() => {
      const dice = random();
      if (dice < pauseChance) {
        const pause: Pause = { holdMs: 100 + Math.floor(random() * (maxPauseMs - 100)), then: random() < 0.25 ? 'SIGKILL' : 'SIGCONT' };
        return random() < 0.5
          ? { kind: 'pause', ms: 80 + Math.floor(random() * (maxDelayMs - 80)), ...pause }
          : { kind: 'pause-before-replace', ...pause };
      }
      if (dice >= pauseChance + killChance) return { kind: 'none' };
      return random() < 0.5
        ? { kind: 'at', ms: 80 + Math.floor(random() * (maxDelayMs - 80)) }
        : { kind: 'after-write', ms: Math.floor(random() * 40) };
    });
    const stampAtStart = new Map(plans.map((plan) => [plan.key, recordStamp(target.state, plan.key)]));
    const children = plans.map((plan, i) =>
      startWarden(target, argsFor(plan), kills[i]!.kind === 'pause-before-replace' ? { env: { WARDEN_TEST_PAUSE: 'before-replace' } } : {}),
    );
    const timers: NodeJS.Timeout[] = [];
    /** Holds a stopped process for its pause, then resumes or kills it. */
    const paused = new Set<number>();
    const release = (i: number, pause: Pause) => {
      paused.add(i);
      timers.push(setTimeout(() => children[i]!.kill(pause.then), pause.holdMs));
    };
    const watching = kills.some((k) => k.kind === 'after-write' || k.kind === 'pause-before-replace');
    let running = true;
    const watcher = (async () => {
      const pending = new Set(kills.flatMap((k, i) => (k.kind === 'after-write' || k.kind === 'pause-before-replace' ? [i] : [])));
      while (running && watching && pending.size > 0) {
        for (const i of [...pending]) {
          const kill = kills[i]!;
          if (kill.kind === 'pause-before-replace') {
            if (!processStopped(children[i]!.pid)) continue;
            pending.delete(i);
            release(i, kill);
            continue;
          }
          if (recordStamp(target.state, plans[i]!.key) === stampAtStart.get(plans[i]!.key)) continue;
          pending.delete(i);
          timers.push(setTimeout(() => children[i]!.kill('SIGKILL'), (kills[i] as { ms: number }).ms));
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    kills.forEach((kill, i) => {
      if (kill.kind === 'at') timers.push(setTimeout(() => children[i]!.kill('SIGKILL'), kill.ms));
      if (kill.kind === 'pause') {
        timers.push(
          setTimeout(() => {
            if (children[i]!.kill('SIGSTOP')) release(i, kill);
          }, kill.ms),
        );
      }
    });
    const results = await Promise.all(
      children.map(async (child) => {
        const r = await child;
        const killed = r.signal === 'SIGKILL';
        let info: SessionInfo | null = null;
        if (!killed && r.exitCode === 0) info = JSON.parse(r.stdout) as SessionInfo;
        return { killed, exitCode: r.exitCode, stderr: r.stderr, info };
      }),
    );
    running = false;
    await watcher;
    for (const timer of timers) clearTimeout(timer);
    results.forEach((r, i) => {
      const kill = kills[i]!;
      if (r.killed) figures.killsAfterWrite += kill.kind === 'after-write' ? 1 : 0;
      // A pause counts once it happened: the process was still running when it was due.
      if ((kill.kind === 'pause' || kill.kind === 'pause-before-replace') && paused.has(i)) {
        figures.pauses += 1;
        if (kill.kind === 'pause-before-replace') figures.pausesBeforeReplace += 1;
        if (r.killed) figures.pausesKilled += 1;
      }
    });
    figures.processes += plans.length;
    const roundViolations: string[] = [];
    results.forEach((r, i) => {
      const plan = plans[i]!;
      if (r.killed) {
        figures.kills += 1;
        figures.killsByOp[plan.op] += 1;
      } else if (r.exitCode === 0) {
        figures.completedByOp[plan.op] += 1;
      } else {
        roundViolations.push(`${plan.key}: ${plan.op} exited ${r.exitCode}: ${r.stderr.trim()}`);
      }
    });

    // What the killed processes left half-done, for the figures: the ls below must finish it.
    try {
      for (const record of Object.values(readState(target.state).sessions)) {
        const state = typeof record.snapshot.value === 'string' ? record.snapshot.value : '';
        if (state === 'spawning' || state === 'ending') figures.leftInFlight += 1;
      }
    } catch {
      // reported by checkConverged
    }
    const { sessions, violations } = await checkConverged(target, tmux);
    roundViolations.push(...violations);
    const after = new Map(sessions.map((s) => [s.key, s]));
    results.forEach((r, i) => {
      const loss = lossOf(plans[i]!, r, after.get(plans[i]!.key));
      if (loss) {
        figures.recordsLost += 1;
        roundViolations.push(loss);
      }
    });
    // Keys nobody touched this round keep their session (tmux may have orphaned or exited them).
    for (const [key, before] of current) {
      if (chosen.includes(key)) continue;
      if (after.get(key)?.sessionId !== before.sessionId) {
        figures.recordsLost += 1;
        roundViolations.push(`${key}: untouched, but session ${before.sessionId} became ${after.get(key)?.sessionId ?? 'nothing'}`);
      }
    }
    for (const v of roundViolations) figures.violations.push(`round ${round}: ${v}`);
    log(
      `round ${round}: ${plans.map((p, i) => `${p.key}:${p.op}${results[i]!.killed ? '✗' : ''}`).join(' ')} → ${sessions.length} sessions${roundViolations.length ? `; ${roundViolations.length} violation(s)` : ''}`,
    );
    current = after;
  }
  figures.durationMs = Date.now() - started;
  return figures;
}
