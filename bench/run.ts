/**
 * `npm run bench [-- --quick]`: every figure of the performance issue measured against its
 * baseline in the same run, on a tmux server and temp files of its own. Prints a table and writes
 * bench/results.json, bench/results.md, bench/scale.json and docs/performance-scale.svg.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine, type TransitionEvent } from '../src/engine.js';
import type { SessionRecord } from '../src/model/schema.js';
import { StateStore } from '../src/store.js';
import { recordValidated } from '../src/store/validated.js';
import { benchActivity } from './activity.js';
import { scaleChart, type ScalePoint } from './chart.js';
import { benchDetectVsPm2, benchIdle, benchLs5000, benchSpawnVsPlain, type Reporter, type VersusOptions } from './versus.js';
import { benchLogs } from './logs.js';
import {
  GROUP,
  LONG_RUNNING,
  benchEnv,
  keyOf,
  launchWindows,
  median,
  medianMs,
  percentile,
  recordsFor,
  syntheticSessions,
  timed,
  writeStateFile,
  type BenchEnv,
} from './lib.js';

const quick = process.argv.includes('--quick');
/** `--only spawn,cli`: run only these parts (for working on one figure); results are not written. */
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const only = onlyArg ? new Set(onlyArg.split(',')) : null;
const wanted = (part: string) => only === null || only.has(part);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
// What `bin` points at.
const cli = path.join(root, 'dist', 'src', 'warden.cjs');
const child = path.join(here, 'rehydrate-child.js');

const N = {
  reconcile: quick ? 200 : 1000,
  reconcileRuns: quick ? 5 : 9,
  loopRuns: quick ? 1 : 3,
  spawn: 50,
  spawnRounds: quick ? 3 : 7,
  rehydrate: quick ? 2000 : 10_000,
  rehydrateRuns: quick ? 3 : 5,
  burst: quick ? 200 : 1000,
  ls: 100,
  lsRuns: quick ? 11 : 31,
  detect: quick ? 20 : 100,
  detectPoll: quick ? 8 : 20,
  scale: quick ? [100, 1000, 10_000] : [100, 1000, 10_000, 50_000],
  activity: quick ? 10 : 40,
  activityCpuMs: quick ? 10_000 : 30_000,
};

interface Row {
  name: string;
  what: string;
  value: number;
  unit: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: boolean;
}
const rows: Row[] = [];
/** Measured for context, without a goal: printed under the table. */
const info: string[] = [];

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function record(row: Omit<Row, 'met'>, met: boolean): void {
  rows.push({ ...row, met });
  process.stdout.write(`  ${met ? 'ok  ' : 'MISS'} ${row.name} = ${fmt(row.value)} ${row.unit} (baseline ${row.baseline}, goal ${row.goal})\n`);
}

function step(title: string): void {
  process.stdout.write(`\n# ${title}\n`);
}

/** A real record (what the engine writes for an active session) to clone into large files. */
async function templateRecord(env: BenchEnv): Promise<SessionRecord> {
  const engine = await createEngine({ stateFile: env.stateFile('template'), socket: env.socket });
  await engine.spawn('template', { command: LONG_RUNNING, cwd: os.tmpdir(), labels: { team: 'bench' } });
  const document = await engine.store.load();
  await engine.end('template');
  await engine.close();
  return document.sessions.template!;
}

/**
 * Empties the group, leaving one untagged window in it: chaining kill-window over every window of
 * a session with a client attached (our control client) crashes tmux 3.3a, so it never empties.
 */
async function freshGroup(env: BenchEnv): Promise<void> {
  await env.tmux.run(['kill-session', '-t', `=${GROUP}`]).catch(() => undefined);
  await env.tmux.run(['new-session', '-d', '-s', GROUP, ...LONG_RUNNING]);
}

// ---------------------------------------------------------------------------------------------

async function benchReconcile(env: BenchEnv, template: SessionRecord): Promise<Engine> {
  step(`reconcile ${N.reconcile} sessions vs a per-session has-session loop`);
  await freshGroup(env);
  const windows = await launchWindows(env.tmux, N.reconcile);
  const stateFile = env.stateFile('reconcile');
  writeStateFile(stateFile, recordsFor(template, windows));
  const engine = await createEngine({ stateFile, socket: env.socket, reconcileOnOpen: false });
  const engineMs = await medianMs(N.reconcileRuns, 2, async () => {
    // The probe alone, as round one measured it: activity (a screen read per quiet pane) is benched apart.
    const result = await engine.reconcile({ activity: false });
    const moved = result.transitions[0];
    if (result.probe !== 'ok' || moved) throw new Error(`the bench sessions are not all active (${moved ? `${moved.key}: ${moved.from} → ${moved.to}` : result.probe})`);
  });
  const before = engine.tmux.calls;
  await engine.reconcile({ activity: false });
  const calls = engine.tmux.calls - before;
  const loopMs = await medianMs(N.loopRuns, 0, async () => {
    for (const { ref } of windows) await env.tmux.run(['has-session', '-t', ref.windowId]);
  });
  record(
    { name: 'reconcile_1000_tmux_calls', what: `tmux processes per reconcile of ${N.reconcile}`, value: calls, unit: 'calls', baseline: `${N.reconcile} calls`, ratio: fmt(calls / N.reconcile), goal: '1' },
    calls === 1,
  );
  const speedup = loopMs / engineMs;
  record(
    { name: 'reconcile_1000_speedup', what: `has-session loop ÷ reconcile (${fmt(loopMs)} ms ÷ ${fmt(engineMs)} ms)`, value: speedup, unit: 'x', baseline: `${fmt(loopMs)} ms loop`, ratio: fmt(speedup), goal: '>= 50' },
    speedup >= 50,
  );
  return engine;
}

async function benchBurst(env: BenchEnv, engine: Engine): Promise<void> {
  step(`a burst of ${N.burst} transitions (every window killed at once) while watching`);
  const keys = engine.list().slice(0, N.burst);
  const orphaned = new Set<string>();
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  engine.subscribe((event) => {
    if (event.to !== 'orphaned') return;
    orphaned.add(event.key);
    if (orphaned.size === keys.length) allDone();
  });
  const stop = new AbortController();
  const watching = engine.watch({ signal: stop.signal });
  await waitUntil(() => controlAttached(env), 'a control client');
  const writesBefore = engine.store.writeCount;
  const start = performance.now();
  // One tmux command line holds about 250 kill-windows ("command too long" beyond): a few at once.
  const chunks: string[][] = [];
  for (let i = 0; i < keys.length; i += 200) {
    chunks.push(keys.slice(i, i + 200).flatMap((s, j) => [...(j ? [';'] : []), 'kill-window', '-t', s.windowId!]));
  }
  await Promise.all(chunks.map((args) => env.tmux.run(args)));
  await done;
  const durableMs = performance.now() - start;
  const writes = engine.store.writeCount - writesBefore;
  stop.abort();
  await watching;
  record(
    { name: 'burst_1000_writes', what: `state-file writes for ${keys.length} transitions (all durable in ${fmt(durableMs)} ms)`, value: writes, unit: 'writes', baseline: `${keys.length} writes`, ratio: fmt(writes / keys.length), goal: '<= 20' },
    writes <= 20,
  );
  await engine.close();
}

/** Raw `new-window` ×50 vs `engine.spawn` ×50, issued `together` (at once) or one after another. */
async function spawnRound(env: BenchEnv, together: boolean): Promise<{ rawMs: number; engineMs: number; writes: number }> {
  const run = async (count: number, one: (i: number) => Promise<unknown>) => {
    if (together) await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
    else for (let i = 0; i < count; i++) await one(i);
  };
  await freshGroup(env);
  const rawMs = (
    await timed(() =>
      run(N.spawn, () => env.tmux.run(['new-window', '-d', '-t', `=${GROUP}:`, '-P', '-F', '#{window_id}', ...LONG_RUNNING])),
    )
  ).ms;
  await freshGroup(env);
  const engine = await createEngine({ stateFile: env.stateFile('spawn'), socket: env.socket });
  const engineMs = (await timed(() => run(N.spawn, (i) => engine.spawn(keyOf(i), { command: LONG_RUNNING })))).ms;
  const writes = engine.store.writeCount;
  if (engine.list().filter((s) => s.state === 'active').length !== N.spawn) throw new Error('not every spawn is active');
  await engine.close();
  return { rawMs, engineMs, writes };
}

async function benchSpawn(env: BenchEnv): Promise<void> {
  step(`${N.spawn} spawns through the engine vs ${N.spawn} raw new-window, issued together (and one after another)`);
  for (const together of [true, false]) {
    const rounds: { rawMs: number; engineMs: number; writes: number }[] = [];
    for (let round = -1; round < N.spawnRounds; round++) {
      const result = await spawnRound(env, together);
      if (round >= 0) rounds.push(result);
    }
    const ratio = median(rounds.map((r) => r.engineMs / r.rawMs));
    const raw = median(rounds.map((r) => r.rawMs));
    const viaEngine = median(rounds.map((r) => r.engineMs));
    const writes = median(rounds.map((r) => r.writes));
    if (together) {
      record(
        { name: 'spawn_50_overhead_ratio', what: `together: engine ${fmt(viaEngine)} ms (${writes} writes) ÷ raw ${fmt(raw)} ms`, value: ratio, unit: 'x', baseline: `${fmt(raw)} ms raw`, ratio: fmt(ratio), goal: '<= 1.3' },
        ratio <= 1.3,
      );
    } else {
      // Not a goal of its own: two durable writes (with fsync) per spawn against one tmux process.
      info.push(`${N.spawn} spawns one after another: engine ${fmt(viaEngine)} ms (${writes} writes) ÷ raw ${fmt(raw)} ms = ${fmt(ratio)}x`);
      process.stdout.write(`  info ${info.at(-1)}\n`);
    }
  }
}

function runChild(mode: 'engine' | 'parse', file: string, socket: string): { ms: number; cpuMs?: number; rssMb: number; sessions: number } {
  const out = execFileSync(process.execPath, [child, mode, file, socket], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

async function benchRehydrate(env: BenchEnv, template: SessionRecord): Promise<void> {
  step(`rehydrate ${N.rehydrate} persisted sessions whose windows are gone (each becomes orphaned)`);
  const pristine = env.stateFile('rehydrate-pristine');
  writeStateFile(pristine, syntheticSessions(template, N.rehydrate));
  const engineRuns: { ms: number; cpuMs?: number; rssMb: number }[] = [];
  const parseRuns: { ms: number; rssMb: number }[] = [];
  const recordedRuns: { ms: number; rssMb: number }[] = [];
  const pristineText = readFileSync(pristine, 'utf8');
  for (let run = -1; run < N.rehydrateRuns; run++) {
    const file = env.stateFile('rehydrate');
    copyFileSync(pristine, file);
    const parsed = runChild('parse', file, env.socket);
    const opened = runChild('engine', file, env.socket);
    // The same file as tmux-warden itself would have left it: its bytes recorded as validated.
    const recorded = env.stateFile('rehydrate-recorded');
    copyFileSync(pristine, recorded);
    recordValidated(recorded, pristineText);
    recordedRuns.push(runChild('engine', recorded, env.socket));
    if (opened.sessions !== N.rehydrate) throw new Error(`rehydrated ${opened.sessions} of ${N.rehydrate}`);
    const after = JSON.parse(readFileSync(file, 'utf8')) as { sessions: Record<string, { snapshot: { value: unknown } }> };
    if (Object.values(after.sessions).some((r) => r.snapshot.value !== 'orphaned')) throw new Error('not every session was orphaned');
    if (run >= 0) {
      engineRuns.push(opened);
      parseRuns.push(parsed);
    }
  }
  const ms = median(engineRuns.map((r) => r.ms));
  const rss = median(engineRuns.map((r) => r.rssMb));
  const parseMs = median(parseRuns.map((r) => r.ms));
  const parseRss = median(parseRuns.map((r) => r.rssMb));
  const cpuMs = median(engineRuns.map((r) => r.cpuMs ?? Number.NaN));
  info.push(`rehydrate ${N.rehydrate}: ${fmt(cpuMs)} ms of CPU (whole process) for ${fmt(ms)} ms of wall time`);
  info.push(`rehydrate ${N.rehydrate} of a file tmux-warden wrote (its bytes recorded as validated, state.json.valid): ${fmt(median(recordedRuns.slice(1).map((r) => r.ms)))} ms, ${fmt(median(recordedRuns.slice(1).map((r) => r.rssMb)))} MB`);
  process.stdout.write(`  info ${info.at(-1)}\n`);
  record(
    { name: 'rehydrate_10000_ms', what: `open + validate + reconcile + write ${N.rehydrate} orphaned`, value: ms, unit: 'ms', baseline: `${fmt(parseMs)} ms JSON.parse`, ratio: fmt(ms / parseMs), goal: '< 500' },
    ms < 500,
  );
  record(
    { name: 'rehydrate_10000_rss_mb', what: 'resident memory after that', value: rss, unit: 'MB', baseline: `${fmt(parseRss)} MB JSON.parse`, ratio: fmt(rss / parseRss), goal: '< 150' },
    rss < 150,
  );
}

function wallMs(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${String(result.stderr)}`);
  return ms;
}

async function benchCli(env: BenchEnv, template: SessionRecord): Promise<void> {
  step(`warden ls --json on ${N.ls} sessions vs node -e 0 (cold processes, interleaved)`);
  await freshGroup(env);
  const windows = await launchWindows(env.tmux, N.ls);
  const stateFile = env.stateFile('ls');
  writeStateFile(stateFile, recordsFor(template, windows));
  // The code cache goes to the bench's own directory; the warm-up runs create it, as a first run would.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: env.socket, XDG_CACHE_HOME: env.dir };
  delete childEnv.TMUX;
  const out = execFileSync(process.execPath, [cli, 'ls', '--json'], { env: childEnv, encoding: 'utf8' });
  const listed = (JSON.parse(out) as { sessions: { state: string }[] }).sessions;
  if (listed.length !== N.ls || listed.some((s) => s.state !== 'active')) throw new Error('ls did not list the bench sessions as active');
  const node: number[] = [];
  const ls: number[] = [];
  const tmuxLs: number[] = [];
  for (let i = -3; i < N.lsRuns; i++) {
    const n = wallMs(process.execPath, ['-e', '0'], childEnv);
    const l = wallMs(process.execPath, [cli, 'ls', '--json'], childEnv);
    const t = wallMs(env.tmux.bin, [...env.tmux.socketArgs(), 'list-panes', '-a'], childEnv);
    if (i < 0) continue;
    node.push(n);
    ls.push(l);
    tmuxLs.push(t);
  }
  const ratio = median(ls.map((l, i) => l / node[i]!));
  record(
    { name: 'cli_ls_vs_node_ratio', what: `ls ${fmt(median(ls))} ms ÷ node -e 0 ${fmt(median(node))} ms (tmux list-panes -a: ${fmt(median(tmuxLs))} ms)`, value: ratio, unit: 'x', baseline: `${fmt(median(node))} ms node -e 0`, ratio: fmt(ratio), goal: '<= 1.6' },
    ratio <= 1.6,
  );
  await freshGroup(env);
}

async function controlAttached(env: BenchEnv): Promise<boolean> {
  const out = await env.tmux.run(['list-clients', '-F', '#{client_control_mode}']).catch(() => '');
  return out.split('\n').includes('1');
}

async function waitUntil(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Window killed (just before the kill is issued) → the orphaned transition heard (it is durable by then). */
async function detectLatencies(env: BenchEnv, samples: number, control: boolean): Promise<number[]> {
  await freshGroup(env);
  const engine = await createEngine({ stateFile: env.stateFile('watch'), socket: env.socket });
  let heard: ((event: TransitionEvent) => void) | null = null;
  engine.subscribe((event) => heard?.(event));
  const stop = new AbortController();
  const watching = engine.watch({ signal: stop.signal, control, intervalMs: 500 });
  if (control) await waitUntil(() => controlAttached(env), 'a control client');
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const key = `detect-${i}`;
    const info = await engine.spawn(key, { command: LONG_RUNNING });
    const orphaned = new Promise<number>((resolve) => {
      heard = (event) => {
        if (event.key === key && event.to === 'orphaned') resolve(performance.now());
      };
    });
    const start = performance.now();
    await env.tmux.run(['kill-window', '-t', info.windowId!]);
    latencies.push((await orphaned) - start);
    heard = null;
    await engine.end(key);
  }
  stop.abort();
  await watching;
  await engine.close();
  return latencies;
}

async function benchDetect(env: BenchEnv): Promise<void> {
  step(`watch: window killed → transition durable, ${N.detect} samples (control mode) vs ${N.detectPoll} (500 ms polling)`);
  const control = await detectLatencies(env, N.detect, true);
  const polling = await detectLatencies(env, N.detectPoll, false);
  const p50 = percentile(control, 50);
  const p99 = percentile(control, 99);
  const poll50 = percentile(polling, 50);
  const poll99 = percentile(polling, 99);
  record(
    { name: 'watch_detect_ms_p50', what: 'window killed → durable, median', value: p50, unit: 'ms', baseline: `${fmt(poll50)} ms polling`, ratio: fmt(p50 / poll50), goal: '< 100' },
    p50 < 100,
  );
  record(
    { name: 'watch_detect_ms_p99', what: 'window killed → durable, 99th percentile', value: p99, unit: 'ms', baseline: `${fmt(poll99)} ms polling`, ratio: fmt(p99 / poll99), goal: '< 250' },
    p99 < 250,
  );
}

async function benchScale(env: BenchEnv, template: SessionRecord): Promise<ScalePoint[]> {
  step(`the scale wall: one write and one load at ${N.scale.join(' / ')} sessions`);
  const points: ScalePoint[] = [];
  for (const sessions of N.scale) {
    const file = env.stateFile(`scale-${sessions}`);
    const bytes = writeStateFile(file, syntheticSessions(template, sessions));
    const runs = sessions >= 50_000 ? 3 : 7;
    const loadMs = await medianMs(runs, 1, () => new StateStore(file).load());
    const store = new StateStore(file);
    const first = await store.load();
    const key = keyOf(0);
    let current = first.sessions[key]!;
    const writeMs = await medianMs(runs, 1, async () => {
      const result = await store.commit([
        { key, expect: { rev: current.rev, updatedAt: current.updatedAt }, record: { machineVersion: current.machineVersion, snapshot: current.snapshot, owner: null } },
      ]);
      current = result.applied.get(key)!;
    });
    const size = statSync(file).size;
    const point = { sessions, writeMs, loadMs, fileMb: size / 2 ** 20 };
    points.push(point);
    process.stdout.write(`  ${sessions} sessions: file ${fmt(point.fileMb)} MB (${bytes} bytes written first), write ${fmt(writeMs)} ms, load ${fmt(loadMs)} ms\n`);
  }
  return points;
}

// ---------------------------------------------------------------------------------------------

function tmuxVersion(): string {
  try {
    return execFileSync('tmux', ['-V'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function fsType(dir: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function table(): string {
  const header = ['figure', 'value', 'baseline', 'ratio', 'goal', ''];
  const body = rows.map((r) => [r.name, `${fmt(r.value)} ${r.unit}`, r.baseline, r.ratio, r.goal, r.met ? 'met' : 'MISSED']);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const env = benchEnv();
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    tmux: tmuxVersion(),
    tempFilesystem: fsType(env.dir),
    quick,
    date: new Date().toISOString(),
  };
  process.stdout.write(`tmux-warden bench${quick ? ' (quick: smaller N)' : ''} on ${machine.cpus} × ${machine.cpuModel}, ${machine.node}, ${machine.tmux}, temp files on ${machine.tempFilesystem}\n`);
  let scale: ScalePoint[] = [];
  // Interrupted: still remove the bench's tmux server (and the programs in it) and temp files.
  // (`on`, not `once`: execa's signal-exit re-raises a signal its own handler is left alone with.)
  const interrupted = (signal: NodeJS.Signals) => {
    void env.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    // A session outside the group keeps the server up while the bench empties the group.
    await env.tmux.run(['new-session', '-d', '-s', 'bench-anchor', ...LONG_RUNNING]);
    const template = await templateRecord(env);
    if (wanted('reconcile') || wanted('burst')) {
      const engine = await benchReconcile(env, template);
      await benchBurst(env, engine);
    }
    if (wanted('spawn')) await benchSpawn(env);
    if (wanted('rehydrate')) await benchRehydrate(env, template);
    if (wanted('cli')) await benchCli(env, template);
    if (wanted('detect')) await benchDetect(env);
    if (wanted('activity')) {
      step(`activity: prompt → waiting and output → busy, ${N.activity} samples; watcher CPU with 50 quiet and 50 busy agents`);
      await benchActivity(env, { record, info: (line) => info.push(line), fmt }, N.activity, N.activityCpuMs);
    }
    if (wanted('scale')) scale = await benchScale(env, template);
    const reporter: Reporter = {
      step,
      record,
      info: (line) => {
        info.push(line);
        process.stdout.write(`  info ${line}\n`);
      },
      fmt,
    };
    const versus: VersusOptions = { root, cli, quick, freshGroup: () => freshGroup(env) };
    if (wanted('plain')) await benchSpawnVsPlain(env, versus, reporter);
    if (wanted('idle')) await benchIdle(env, versus, reporter);
    if (wanted('detect-kill')) await benchDetectVsPm2(env, template, versus, reporter);
    if (wanted('ls5000')) await benchLs5000(env, template, versus, reporter);
    if (wanted('logs')) {
      step('durable logs: spawn cost, 20 sessions streaming through their pipes, logs -n 100 of 10 MiB');
      for (const { met, ratio, ...figure } of await benchLogs(env, { quick, cli })) record({ ...figure, ratio: fmt(ratio) }, met);
    }
  } finally {
    await env.cleanup();
  }
  const order = [
    'reconcile_1000_tmux_calls',
    'reconcile_1000_speedup',
    'spawn_50_overhead_ratio',
    'rehydrate_10000_ms',
    'rehydrate_10000_rss_mb',
    'burst_1000_writes',
    'cli_ls_vs_node_ratio',
    'watch_detect_ms_p50',
    'watch_detect_ms_p99',
    'spawn_50_overhead_vs_plain',
    'spawn_50_sequential_overhead_vs_plain',
    'cli_ls_5000_vs_node_ratio',
    'watch_idle_cpu_ms_per_min',
    'watch_idle_cpu_vs_pm2',
    'watch_rss_vs_pm2',
    'detect_p50_ms',
    'detect_p50_vs_pm2',
    'detect_p99_ms',
    'detect_p50_ms_5000',
    'activity_waiting_ms_p50',
    'activity_waiting_ms_p99',
    'activity_busy_ms_p50',
    'activity_watch_cpu_quiet_ms_per_min',
    'activity_watch_cpu_busy_ms_per_min',
    'logs_spawn_ratio',
    'logs_pipe_20_sessions_mib_s',
    'logs_n100_10mib_ms',
  ];
  rows.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const text = table();
  process.stdout.write(`\n${text}\n${info.map((line) => `\n${line}`).join('')}\n`);
  if (only) return;
  const results = {
    figures: rows.map((r) => ({ name: r.name, value: Number(r.value.toFixed(3)), unit: r.unit, goal: r.goal })),
    machine,
  };
  writeFileSync(path.join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const scaleRows = scale.map((p) => `| ${p.sessions.toLocaleString('en')} | ${fmt(p.fileMb)} MB | ${fmt(p.writeMs)} ms | ${fmt(p.loadMs)} ms |`);
  writeFileSync(
    path.join(root, 'bench', 'results.md'),
    [
      `Measured ${machine.date} on ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.node}, ${machine.tmux}, temp files on ${machine.tempFilesystem}${quick ? ' (quick mode: smaller N)' : ''}.`,
      '',
      text,
      '',
      ...info.map((line) => `- ${line}`),
      '',
      '| sessions | file size | write one change | load (parse + validate) |',
      '|---|---|---|---|',
      ...scaleRows,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(root, 'bench', 'scale.json'), `${JSON.stringify({ points: scale, machine }, null, 2)}\n`);
  if (scale.length) {
    mkdirSync(path.join(root, 'docs'), { recursive: true });
    writeFileSync(path.join(root, 'docs', 'performance-scale.svg'), scaleChart(scale));
  }
  const missed = rows.filter((r) => !r.met);
  process.stdout.write(missed.length ? `\n${missed.length} goal(s) missed: ${missed.map((r) => r.name).join(', ')}\n` : '\nevery goal met\n');
  process.exitCode = missed.length ? 1 : 0;
}

await main();
