/**
 * The cost of durable logs: spawning with logs vs without, bytes per second the pipe sustains
 * with 20 sessions streaming at once (vs a plain `cat >>` pipe), and `logs -n 100` on a 10 MiB log.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../src/engine.js';
import { logPipeArgv } from '../src/logs/pipe.js';
import { shellQuote } from '../src/tmux/formats.js';
import { GROUP, LONG_RUNNING, keyOf, medianMs, timed, type BenchEnv } from './lib.js';

export interface LogFigure {
  name: string;
  what: string;
  value: number;
  unit: string;
  baseline: string;
  ratio: number;
  goal: string;
  met: boolean;
}

const STREAMS = 20;
const STREAM_BYTES = 8 * 1024 * 1024;

/** Every window of the group gone, one untagged window left (see run.ts). */
async function emptyGroup(env: BenchEnv): Promise<void> {
  await env.tmux.run(['kill-session', '-t', `=${GROUP}`]).catch(() => undefined);
  await env.tmux.run(['new-session', '-d', '-s', GROUP, ...LONG_RUNNING]);
}

/** STREAMS windows each writing STREAM_BYTES as fast as they can, piped through `pipe(i)`; MiB/s overall. */
async function streamRate(env: BenchEnv, dir: string, pipe: (file: string) => string): Promise<number> {
  await emptyGroup(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = Array.from({ length: STREAMS }, (_, i) => path.join(dir, `${keyOf(i)}.log`));
  const writer = `yes 'a line of agent output, long enough to look like one: 0123456789abcdef' | head -c ${STREAM_BYTES}; sleep 600`;
  const start = performance.now();
  await Promise.all(
    files.map((file, i) =>
      env.tmux.run([
        'new-window', '-d', '-t', `=${GROUP}:`, '-n', keyOf(i), 'sh', '-c', writer,
        ';', 'pipe-pane', '-o', '-t', `=${GROUP}:=${keyOf(i)}`, pipe(file),
      ]),
    ),
  );
  const written = () => files.reduce((sum, f) => sum + sizeOf(f) + sizeOf(`${f}.1`) + sizeOf(`${f}.2`), 0);
  while (written() < STREAMS * STREAM_BYTES) await new Promise((resolve) => setTimeout(resolve, 20));
  const seconds = (performance.now() - start) / 1000;
  await emptyGroup(env);
  return (STREAMS * STREAM_BYTES) / 2 ** 20 / seconds;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export async function benchLogs(env: BenchEnv, options: { quick: boolean; cli: string }): Promise<LogFigure[]> {
  const figures: LogFigure[] = [];

  // Spawning: the pipe is chained into the one launch call; its cost is tmux starting the pipe.
  const spawns = options.quick ? 10 : 30;
  const spawnMs = async (logs: boolean) => {
    await emptyGroup(env);
    const engine = await createEngine({ stateFile: env.stateFile('logs-spawn'), socket: env.socket, logs: { enabled: logs } });
    const { ms } = await timed(async () => {
      for (let i = 0; i < spawns; i++) await engine.spawn(keyOf(i), { command: LONG_RUNNING });
    });
    await engine.close();
    return ms;
  };
  await spawnMs(true);
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  for (let round = 0; round < (options.quick ? 2 : 4); round++) {
    withoutMs.push(await spawnMs(false));
    withMs.push(await spawnMs(true));
  }
  const spawnRatio = Math.min(...withMs) / Math.min(...withoutMs);
  figures.push({
    name: 'logs_spawn_ratio',
    what: `${spawns} spawns with logs ÷ without (${Math.min(...withMs).toFixed(0)} ms ÷ ${Math.min(...withoutMs).toFixed(0)} ms)`,
    value: spawnRatio, unit: 'x', baseline: `${Math.min(...withoutMs).toFixed(0)} ms without logs`, ratio: spawnRatio, goal: '<= 1.25',
    met: spawnRatio <= 1.25,
  });

  // Throughput: 20 sessions streaming at once, through the rotating pipe vs plain `cat >>`.
  const rotating = await streamRate(env, path.join(env.dir, 'stream-rotating'), (file) =>
    shellQuote(['exec', ...logPipeArgv(file, { maxFileSize: 4 * 1024 * 1024, maxFiles: 3 })]),
  );
  const cat = await streamRate(env, path.join(env.dir, 'stream-cat'), (file) => `exec cat >> ${shellQuote([file])}`);
  figures.push({
    name: 'logs_pipe_20_sessions_mib_s',
    what: `MiB/s logged by ${STREAMS} sessions streaming at once, rotating every 4 MiB (cat >>: ${cat.toFixed(0)} MiB/s)`,
    value: rotating, unit: 'MiB/s', baseline: `${cat.toFixed(0)} MiB/s cat >>`, ratio: rotating / cat, goal: '>= 0.8 × cat',
    met: rotating >= 0.8 * cat,
  });

  // Reading: `logs -n 100` of a 10 MiB log, rendered, vs `tail -n 100` of the same file.
  const stateFile = env.stateFile('logs-read');
  const engine = await createEngine({ stateFile, socket: env.socket });
  const info = await engine.spawn('reader', { command: LONG_RUNNING });
  await engine.close();
  const line = (i: number) => `\x1b[32m${i}\x1b[0m compiling module ${i} of the project, a line of ordinary build output\r\n`;
  const chunks: string[] = [];
  for (let i = 0, size = 0; size < 10 * 2 ** 20; i++) {
    chunks.push(line(i));
    size += chunks.at(-1)!.length;
  }
  writeFileSync(info.logFile!, chunks.join(''));
  const cliArgs = [options.cli, '--socket', env.socket, '--state', stateFile, 'logs', 'reader', '-n', '100'];
  const runs = options.quick ? 3 : 7;
  const logsMs = await medianMs(runs, 1, async () => execFileSync(process.execPath, cliArgs));
  const tailMs = await medianMs(runs, 1, async () => execFileSync('tail', ['-n', '100', info.logFile!]));
  figures.push({
    name: 'logs_n100_10mib_ms',
    what: `warden logs -n 100 of a 10 MiB log, rendered (tail -n 100: ${tailMs.toFixed(1)} ms)`,
    value: logsMs, unit: 'ms', baseline: `${tailMs.toFixed(1)} ms tail -n 100`, ratio: logsMs / tailMs, goal: '< 1000',
    met: logsMs < 1000,
  });
  await emptyGroup(env);
  return figures;
}
