/**
 * A small daemon that embeds the engine, as another program would: it rehydrates every session
 * on start, reconciles with tmux continuously, runs the hooks of `warden.config.json` beside the
 * state file, and serves the sessions over HTTP on the loopback interface only.
 *
 *   node dist/examples/daemon.js [--state FILE] [--socket NAME] [--port N] [--interval MS] [--token-file FILE]
 *
 * Loopback is not private: every local user can reach it. So, like Jupyter, every request that
 * changes something (POST, DELETE) must carry `Authorization: Bearer TOKEN`, the token being a
 * fresh random one written at start to a 0600 file only this user can read (`daemon.token` beside
 * the state file, or --token-file); the listening line names the file.
 *
 *   GET    /sessions        → {"sessions": [session, …]}
 *   GET    /sessions/KEY    → session
 *   POST   /sessions/KEY    {"command": ["claude"], "mode": "normal", "cwd": …, "labels": …} → session
 *   DELETE /sessions/KEY    → the ended session (state "normal")
 *
 * stdout gets one JSON line when it listens (`{"listening": URL}`) and one per transition.
 * SIGTERM or SIGINT: the watch stops, the engine closes, the server closes, and the process ends
 * on its own with status 0; anything left running would keep it alive.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  HookRunner,
  WardenError,
  createEngine,
  defaultConfigPath,
  defaultStatePath,
  loadHooksConfig,
  type Engine,
  type SpawnOptions,
} from 'tmux-warden';

const LOOPBACK = '127.0.0.1';
const MAX_BODY_BYTES = 64 * 1024;

const { values: args } = parseArgs({
  options: {
    state: { type: 'string' },
    socket: { type: 'string' },
    port: { type: 'string', default: '7420' },
    interval: { type: 'string', default: '500' },
    'token-file': { type: 'string' },
  },
});

function log(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** HTTP status of an engine error: the same classes the CLI maps to exit codes. */
function statusOf(error: WardenError): number {
  switch (error.code) {
    case 'INVALID_INPUT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    default:
      return 500;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  reply(res, status, { error: { code, message } });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new WardenError('INVALID_INPUT', `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.trim() ? JSON.parse(text) : {};
  } catch {
    throw new WardenError('INVALID_INPUT', 'the body is not JSON');
  }
}

/**
 * A web page can make the browser send requests to loopback ports: refuse any Host but ours (DNS
 * rebinding) and a POST that is not JSON (a cross-origin form cannot send one without CORS).
 */
function fromLocalClient(req: IncomingMessage, port: number): boolean {
  const allowed = new Set([`${LOOPBACK}:${port}`, `localhost:${port}`]);
  if (!allowed.has(req.headers.host ?? '')) return false;
  return req.method !== 'POST' || (req.headers['content-type'] ?? '').startsWith('application/json');
}

/** A new token in a new 0600 file (an old one is removed first, so its mode or owner never carries over). */
async function writeToken(file: string): Promise<Buffer> {
  const token = randomBytes(32).toString('hex');
  await unlink(file).catch(() => undefined);
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(`${token}\n`);
  } finally {
    await handle.close();
  }
  return Buffer.from(token);
}

/** Reading is open to local clients; a request that changes something must carry the token. */
function authorised(req: IncomingMessage, token: Buffer): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  const given = Buffer.from(/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  return given.length === token.length && timingSafeEqual(given, token);
}

/** A key from the path; a malformed %-escape is the client's mistake, not the server's. */
function keyOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new WardenError('INVALID_INPUT', `the path segment ${JSON.stringify(segment)} has a malformed %-escape`);
  }
}

async function route(engine: Engine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
  // A CLI call may have changed the file since the last reconcile: one stat when it did not.
  if (req.method === 'GET') await engine.sync();
  if (url.pathname === '/sessions' && req.method === 'GET') {
    reply(res, 200, { sessions: engine.list() });
    return;
  }
  const match = /^\/sessions\/([^/]+)$/.exec(url.pathname);
  if (!match) return refuse(res, 404, 'NOT_FOUND', 'try GET /sessions');
  const key = keyOf(match[1]!);
  switch (req.method) {
    case 'GET': {
      const session = engine.get(key);
      if (!session) return refuse(res, 404, 'NOT_FOUND', `no session ${key}`);
      return reply(res, 200, session);
    }
    case 'POST': {
      const body = await readJson(req);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new WardenError('INVALID_INPUT', 'the body is a JSON object: {"command": [...], "mode": ...}');
      }
      // The engine validates every field (zod) and refuses what it cannot use with INVALID_INPUT.
      return reply(res, 201, await engine.spawn(key, body as SpawnOptions));
    }
    case 'DELETE':
      return reply(res, 200, await engine.end(key));
    default:
      return refuse(res, 405, 'INVALID_INPUT', 'use GET, POST or DELETE');
  }
}

async function main(): Promise<void> {
  const stateFile = args.state ?? defaultStatePath();
  const port = Number(args.port);
  const intervalMs = Number(args.interval);
  const tokenFile = args['token-file'] ?? join(dirname(stateFile), 'daemon.token');

  // Hooks first, so they hear what opening the engine does (a resumed spawn, the first reconcile).
  const config = await loadHooksConfig(defaultConfigPath(stateFile));
  const hooks = config
    ? new HookRunner(config, { stateFile, socket: args.socket, onResult: (r) => r.ok || log({ hookFailed: r.message }) })
    : null;
  const engine = await createEngine({ stateFile, socket: args.socket, outbox: hooks?.outbox });
  engine.subscribe(({ key, from, to, event, at }) => log({ transition: { key, from, to, event, at } }));
  const token = await writeToken(tokenFile);

  const server = createServer((req, res) => {
    if (!fromLocalClient(req, boundPort())) return refuse(res, 403, 'FORBIDDEN', 'local JSON clients only');
    if (!authorised(req, token)) {
      return refuse(res, 401, 'UNAUTHORIZED', `send the token of ${tokenFile} as "Authorization: Bearer TOKEN"`);
    }
    route(engine, req, res).catch((err: unknown) => {
      if (err instanceof WardenError) refuse(res, statusOf(err), err.code, err.message);
      else refuse(res, 500, 'INTERNAL', err instanceof Error ? err.message : String(err));
    });
  });
  const boundPort = () => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  };
  server.listen(port, LOOPBACK);
  await once(server, 'listening');
  log({ listening: `http://${LOOPBACK}:${boundPort()}`, tokenFile, stateFile, sessions: engine.list().length });

  const stopping = new AbortController();
  const watching = engine.watch({ intervalMs, signal: stopping.signal }).catch((err: unknown) => {
    // A watch that cannot go on (the state file became unreadable): stop, and say so.
    log({ error: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
    stopping.abort();
  });

  // `on`, not `once`: a once-listener is gone while it runs, and a library's exit handler (execa's
  // child cleanup) that then sees no other listener re-raises the signal and kills the process.
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
  });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const signal = await Promise.race([signalled, once(stopping.signal, 'abort').then(() => null)]);
  stopping.abort();
  await watching;
  await engine.close();
  await hooks?.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await unlink(tokenFile).catch(() => undefined);
  log({ stopped: signal ?? 'error' });
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  // No process.exit(): the process ends when nothing is left running, which is the point.
}

await main();
