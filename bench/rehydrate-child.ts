/**
 * One fresh process per measurement, so its resident memory is its own: `engine` opens an engine
 * on the file (load, validate, reconcile once with tmux, every resulting change durable: ready to
 * act); `parse` only reads and JSON-parses the same file, the floor any approach pays.
 * Prints `{"ms":…,"rssMb":…}`.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../src/engine.js';

const [mode, stateFile, socket] = process.argv.slice(2);
if (!stateFile || !socket || (mode !== 'engine' && mode !== 'parse')) {
  process.stderr.write('usage: rehydrate-child.js engine|parse STATE_FILE SOCKET\n');
  process.exit(2);
}
let keep: unknown;
const start = performance.now();
if (mode === 'engine') {
  const engine = await createEngine({ stateFile, socket });
  keep = engine;
  const ms = performance.now() - start;
  const cpuMs = (process.cpuUsage().user + process.cpuUsage().system) / 1000;
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  const sessions = engine.list().length;
  await engine.close();
  process.stdout.write(`${JSON.stringify({ ms, cpuMs, rssMb, sessions })}\n`);
} else {
  keep = JSON.parse(readFileSync(stateFile, 'utf8'));
  const ms = performance.now() - start;
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  process.stdout.write(`${JSON.stringify({ ms, rssMb, sessions: Object.keys((keep as { sessions: object }).sessions).length })}\n`);
}
