/**
 * The side-by-side figures: warden against pm2 doing the same work, and against plain
 * `child_process.spawn` baselines (not execa), measured in the same run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine, type TransitionEvent } from '../src/engine.js';
import { isExited } from '../machines/paths.js';
import type { SessionRecord } from '../src/model/schema.js';
import { GROUP, LONG_RUNNING, inParallel, keyOf, median, percentile, syntheticSessions, writeStateFile, type BenchEnv } from './lib.js';
import { Pm2Daemon, pm2Package } from './pm2.js';

/** What run.ts gives each part to report with. */
export interface Reporter {
  step(title: string): void;
  record(row: { name: string; what: string; value: number; unit: string; baseline: string; ratio: string; goal: string }, met: boolean): void;
  info(line: string): void;
  fmt(v: number): string;
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** CPU (user + system) a process has used so far, in ms, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function waitUntil(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs `argv` as a plain child process and resolves when it exits (the baseline of a tmux call). */
function plainRun(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

export interface VersusOptions {
  root: string;
  cli: string;
  quick: boolean;
  freshGroup(): Promise<void>;
}

/** 50 engine spawns vs 50 `tmux new-window` through plain child_process.spawn, at once and one after another. */
export async function benchSpawnVsPlain(env: BenchEnv, options: VersusOptions, report: Reporter): Promise<void> {
  const count = 50;
  const rounds = options.quick ? 3 : 7;
  report.step(`${count} spawns through the engine vs ${count} tmux new-window by plain child_process.spawn (and pm2 start ×${count})`);
  const newWindow = [env.tmux.bin, ...env.tmux.socketArgs(), 'new-window', '-d', '-t', `=${GROUP}:`, ...LONG_RUNNING];
  const { module } = pm2Package(options.root);
  for (const together of [true, false]) {
    const run = async (one: (i: number) => Promise<unknown>) => {
      if (together) await Promise.all(Array.from({ length: count }, (_, i) => one(i)));
      else for (let i = 0; i < count; i++) await one(i);
    };
    const ratios: number[] = [];
    const plain: number[] = [];
    const engineMs: number[] = [];
    for (let round = -1; round < rounds; round++) {
      await options.freshGroup();
      let start = performance.now();
      await run(() => plainRun(newWindow));
      const p = performance.now() - start;
      await options.freshGroup();
      const engine = await createEngine({ stateFile: env.stateFile('spawn-plain'), socket: env.socket });
      start = performance.now();
      await run((i) => engine.spawn(keyOf(i), { command: LONG_RUNNING }));
      const e = performance.now() - start;
      await engine.close();
      if (round < 0) continue;
      plain.push(p);
      engineMs.push(e);
      ratios.push(e / p);
    }
    const pm2 = await Pm2Daemon.start(module, path.join(env.dir, `pm2-spawn-${together}`));
    const pm2Start = performance.now();
    await run((i) => pm2.startProgram(`p${i}`, LONG_RUNNING));
    const pm2Ms = performance.now() - pm2Start;
    await pm2.stop();
    const ratio = median(ratios);
    const name = together ? 'spawn_50_overhead_vs_plain' : 'spawn_50_sequential_overhead_vs_plain';
    report.record(
      {
        name,
        what: `${together ? 'at once' : 'one after another'}: engine ${report.fmt(median(engineMs))} ms ÷ plain ${report.fmt(median(plain))} ms (pm2 start: ${report.fmt(pm2Ms)} ms)`,
        value: ratio,
        unit: 'x',
        baseline: `${report.fmt(median(plain))} ms plain`,
        ratio: report.fmt(ratio),
        goal: '<= 1.3',
      },
      ratio <= 1.3,
    );
    report.info(`${count} started ${together ? 'at once' : 'one after another'}: warden ${report.fmt(median(engineMs))} ms, pm2 ${report.fmt(pm2Ms)} ms (${report.fmt(median(engineMs) / pm2Ms)}x pm2)`);
  }
  await options.freshGroup();
}

/** Idle cost of the resident process: `warden watch` with N sessions vs the pm2 daemon with N processes, same window. */
export async function benchIdle(env: BenchEnv, options: VersusOptions, report: Reporter): Promise<void> {
  const count = 200;
  const windowMs = options.quick ? 10_000 : 30_000;
  report.step(`idle: warden watch with ${count} sessions vs the pm2 daemon with ${count} processes, CPU over ${windowMs / 1000} s`);
  await options.freshGroup();
  const stateFile = env.stateFile('idle');
  const engine = await createEngine({ stateFile, socket: env.socket });
  await inParallel(8, Array.from({ length: count }, (_, i) => () => engine.spawn(keyOf(i), { command: LONG_RUNNING })));
  await engine.close();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: env.socket, XDG_CACHE_HOME: env.dir };
  delete childEnv.TMUX;
  const watch = spawn(process.execPath, [options.cli, 'watch', '--json'], { env: childEnv, stdio: 'ignore' });
  const { module, version } = pm2Package(options.root);
  const pm2 = await Pm2Daemon.start(module, path.join(env.dir, 'pm2-idle'));
  try {
    await inParallel(8, Array.from({ length: count }, (_, i) => () => pm2.startProgram(`p${i}`, LONG_RUNNING)));
    await waitUntil(async () => (await pm2.list()).filter((p) => p.pm2_env.status === 'online').length === count, 'pm2 online');
    const controlClients = async () =>
      (await env.tmux.run(['list-clients', '-F', '#{client_control_mode}']).catch(() => '')).split('\n').includes('1');
    await waitUntil(controlClients, 'warden watch attached');
    // Let both settle after starting, then measure the same window.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const daemon = pm2.pid();
    const tmuxPid = Number((await env.tmux.run(['display-message', '-p', '#{pid}'])).trim());
    const before = { watch: cpuMs(watch.pid!), pm2: cpuMs(daemon), tmux: cpuMs(tmuxPid) };
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const perMin = (ms: number) => (ms * 60_000) / windowMs;
    const watchCpu = perMin(cpuMs(watch.pid!) - before.watch);
    const pm2Cpu = perMin(cpuMs(daemon) - before.pm2);
    const tmuxCpu = perMin(cpuMs(tmuxPid) - before.tmux);
    // /proc counts CPU in clock ticks: below one tick in the window, both read 0 and are equal.
    const resolution = perMin(TICK_MS);
    const cpuRatio = Math.max(watchCpu, resolution) / Math.max(pm2Cpu, resolution);
    const watchRss = rssMb(watch.pid!);
    const pm2Rss = rssMb(daemon);
    report.record(
      { name: 'watch_idle_cpu_ms_per_min', what: `warden watch, ${count} sessions, CPU per minute at rest`, value: watchCpu, unit: 'ms', baseline: `${report.fmt(pm2Cpu)} ms pm2 ${version}`, ratio: report.fmt(cpuRatio), goal: "<= pm2's" },
      watchCpu <= pm2Cpu,
    );
    report.record(
      { name: 'watch_idle_cpu_vs_pm2', what: `watch ${report.fmt(watchCpu)} ÷ pm2 daemon ${report.fmt(pm2Cpu)} ms per minute (resolution ${report.fmt(resolution)} ms/min)`, value: cpuRatio, unit: 'x', baseline: `${report.fmt(pm2Cpu)} ms/min pm2`, ratio: report.fmt(cpuRatio), goal: '<= 1' },
      cpuRatio <= 1,
    );
    report.record(
      { name: 'watch_rss_vs_pm2', what: `watch ${report.fmt(watchRss)} MB ÷ pm2 daemon ${report.fmt(pm2Rss)} MB resident`, value: watchRss / pm2Rss, unit: 'x', baseline: `${report.fmt(pm2Rss)} MB pm2`, ratio: report.fmt(watchRss / pm2Rss), goal: '<= 1.2' },
      watchRss / pm2Rss <= 1.2,
    );
    report.info(`idle with ${count}: the tmux server itself used ${report.fmt(tmuxCpu)} ms of CPU per minute (warden needs it; pm2 needs no tmux)`);
  } finally {
    watch.kill('SIGTERM');
    await pm2.stop();
    await options.freshGroup();
  }
}

/** Program SIGKILLed → warden's transition durable vs pm2's exit event; with `extra` orphaned records in the file too. */
async function wardenKillLatencies(env: BenchEnv, template: SessionRecord, samples: number, extra: number): Promise<number[]> {
  const stateFile = env.stateFile(`detect-kill-${extra}`);
  if (extra > 0) {
    const sessions = syntheticSessions(template, extra);
    // At rest already (orphaned), as a long-lived file of old sessions is.
    for (const record of Object.values(sessions)) (record.snapshot as { value: unknown }).value = 'orphaned';
    writeStateFile(stateFile, sessions);
  }
  const engine = await createEngine({ stateFile, socket: env.socket });
  let heard: ((event: TransitionEvent) => void) | null = null;
  engine.subscribe((event) => heard?.(event));
  const stop = new AbortController();
  const watching = engine.watch({ signal: stop.signal });
  const latencies: number[] = [];
  try {
    for (let i = -2; i < samples; i++) {
      const key = `kill-${i + 2}`;
      const info = await engine.spawn(key, { command: LONG_RUNNING });
      await waitUntil(async () => (await env.tmux.run(['list-clients', '-F', '#{client_control_mode}']).catch(() => '')).includes('1'), 'control client');
      const exited = new Promise<number>((resolve) => {
        heard = (event) => {
          if (event.key === key && isExited(event.to)) resolve(performance.now());
        };
      });
      const start = performance.now();
      process.kill(info.pid!, 'SIGKILL');
      const ms = (await exited) - start;
      heard = null;
      if (i >= 0) latencies.push(ms);
      await engine.end(key);
    }
  } finally {
    stop.abort();
    await watching;
    await engine.close();
  }
  return latencies;
}

async function pm2KillLatencies(env: BenchEnv, root: string, samples: number): Promise<number[]> {
  const { module } = pm2Package(root);
  const pm2 = await Pm2Daemon.start(module, path.join(env.dir, 'pm2-detect'));
  let heard: ((name: string) => void) | null = null;
  await pm2.onExit((name) => heard?.(name));
  const latencies: number[] = [];
  try {
    for (let i = -2; i < samples; i++) {
      const name = `kill-${i + 2}`;
      await pm2.startProgram(name, LONG_RUNNING);
      let pid = 0;
      await waitUntil(async () => {
        pid = (await pm2.list()).find((p) => p.name === name && p.pm2_env.status === 'online')?.pid ?? 0;
        return pid > 0;
      }, 'pm2 online');
      const exited = new Promise<number>((resolve) => {
        heard = (exitedName) => {
          if (exitedName === name) resolve(performance.now());
        };
      });
      const start = performance.now();
      process.kill(pid, 'SIGKILL');
      const ms = (await exited) - start;
      heard = null;
      if (i >= 0) latencies.push(ms);
    }
  } finally {
    await pm2.stop();
  }
  return latencies;
}

export async function benchDetectVsPm2(env: BenchEnv, template: SessionRecord, options: VersusOptions, report: Reporter): Promise<void> {
  const samples = options.quick ? 15 : 60;
  report.step(`detection: a program SIGKILLed → warden's transition durable vs pm2's exit event, ${samples} samples each`);
  await options.freshGroup();
  const warden = await wardenKillLatencies(env, template, samples, 0);
  const pm2 = await pm2KillLatencies(env, options.root, samples);
  await options.freshGroup();
  const heavy = await wardenKillLatencies(env, template, Math.ceil(samples / 3), options.quick ? 1000 : 5000);
  const p50 = percentile(warden, 50);
  const p99 = percentile(warden, 99);
  const pm2p50 = percentile(pm2, 50);
  const heavy50 = percentile(heavy, 50);
  report.record(
    { name: 'detect_p50_ms', what: 'program killed → active.exited durable, median', value: p50, unit: 'ms', baseline: `${report.fmt(pm2p50)} ms pm2`, ratio: report.fmt(p50 / pm2p50), goal: '<= 10' },
    p50 <= 10,
  );
  report.record(
    { name: 'detect_p50_vs_pm2', what: `warden ${report.fmt(p50)} ÷ pm2 ${report.fmt(pm2p50)} ms`, value: p50 / pm2p50, unit: 'x', baseline: `${report.fmt(pm2p50)} ms pm2`, ratio: report.fmt(p50 / pm2p50), goal: '<= 2' },
    p50 / pm2p50 <= 2,
  );
  report.record(
    { name: 'detect_p99_ms', what: 'program killed → durable, 99th percentile', value: p99, unit: 'ms', baseline: `${report.fmt(percentile(pm2, 99))} ms pm2 p99`, ratio: report.fmt(p99 / percentile(pm2, 99)), goal: '<= 50' },
    p99 <= 50,
  );
  report.record(
    { name: 'detect_p50_ms_5000', what: `the same with ${options.quick ? 1000 : 5000} records in the state file, median`, value: heavy50, unit: 'ms', baseline: `${report.fmt(p50)} ms with none`, ratio: report.fmt(heavy50 / p50), goal: '<= 30' },
    heavy50 <= 30,
  );
}

/** `warden ls --json` on 5,000 sessions vs `node -e 0`, cold processes, interleaved. */
export async function benchLs5000(env: BenchEnv, template: SessionRecord, options: VersusOptions, report: Reporter): Promise<void> {
  const count = options.quick ? 1000 : 5000;
  const runs = options.quick ? 7 : 15;
  report.step(`warden ls --json on ${count} sessions vs node -e 0 (cold processes, interleaved)`);
  const stateFile = env.stateFile('ls-5000');
  const sessions = syntheticSessions(template, count);
  for (const record of Object.values(sessions)) (record.snapshot as { value: unknown }).value = 'orphaned';
  writeStateFile(stateFile, sessions);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: env.socket, XDG_CACHE_HOME: env.dir };
  delete childEnv.TMUX;
  const wall = (argv: string[]) => {
    const start = performance.now();
    execFileSync(argv[0]!, argv.slice(1), { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    return performance.now() - start;
  };
  const ratios: number[] = [];
  const ls: number[] = [];
  const node: number[] = [];
  for (let i = -2; i < runs; i++) {
    const n = wall([process.execPath, '-e', '0']);
    const l = wall([process.execPath, options.cli, 'ls', '--json']);
    if (i < 0) continue;
    node.push(n);
    ls.push(l);
    ratios.push(l / n);
  }
  const ratio = median(ratios);
  report.record(
    { name: 'cli_ls_5000_vs_node_ratio', what: `ls ${report.fmt(median(ls))} ms ÷ node -e 0 ${report.fmt(median(node))} ms at ${count} sessions`, value: ratio, unit: 'x', baseline: `${report.fmt(median(node))} ms node -e 0`, ratio: report.fmt(ratio), goal: '<= 2' },
    ratio <= 2,
  );
}
