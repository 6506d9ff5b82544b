/**
 * `warden ui`'s server: the page, its assets, a server-sent event stream of the sessions, the
 * log tail and the actions, on 127.0.0.1 only, behind the token and the checks of guard.ts.
 *
 *   GET  /?token=T                         the page
 *   GET  /assets/NAME.js | NAME.css        the bundled page (no token: the package's own code)
 *   GET  /api/chart?token=T                the statechart as Mermaid, and each state's id in it
 *   GET  /api/events?token=T               event stream: `reset` (everything), then `update`s
 *   GET  /api/sessions/KEY/log?lines=N     the pane as `warden logs` prints it   (token header)
 *   POST /api/sessions/KEY/ACTION          send, resume, fresh, end              (token header)
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { validateKey, type Engine } from '../../engine.js';
import { InvalidInputError } from '../../model/errors.js';
import { machineGraph, mermaidId, toMermaid } from '../graph.js';
import { errorReply, httpStatusOf, isUiAction, runAction } from './actions.js';
import { assetType, loadAssets, pageHtml } from './assets.js';
import { SessionFeed } from './feed.js';
import { LOOPBACK, listenOnLoopback } from '../loopback.js';
import { checkOrigin, checkRequest, type Refusal } from './guard.js';
import type { ChartView } from './protocol.js';

export interface UiServerOptions {
  engine: Engine;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Random unless given (tests). */
  token?: string;
  /** How often the list is compared for changes that are not transitions, in ms. */
  intervalMs?: number;
  /**
   * The log tail of a session as `warden logs -n LINES` prints it; the CLI passes its own. Without
   * one, the pane is captured (its screen and scrollback).
   */
  logTail?: (key: string, lines: number) => Promise<string>;
}

export interface UiServer {
  port: number;
  token: string;
  /** The page, token included: what to print and open. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
const MAX_LOG_LINES = 2000;
const KEEPALIVE_MS = 15_000;

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
// Mermaid writes a <style> into the SVG it draws: inline styles are allowed, inline scripts are not.
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' }).end(`${JSON.stringify(body)}\n`);
}

function refuse(res: ServerResponse, refusal: Refusal): void {
  reply(res, refusal.status, { error: { code: refusal.code, message: refusal.message } });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new InvalidInputError(`the body is over ${MAX_BODY_BYTES} bytes: send the text in parts`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.trim() ? JSON.parse(text) : {};
  } catch {
    throw new InvalidInputError('the body is not JSON');
  }
}

function chartView(): ChartView {
  const graph = machineGraph();
  return {
    mermaid: toMermaid(graph),
    states: graph.states.map((s) => ({ path: s.path, id: mermaidId(s.path) })),
    triggers: Object.fromEntries(graph.transitions.map((t) => [t.eventType, t.trigger])),
  };
}

function parseLines(value: string | null): number {
  if (value === null) return 200;
  if (!/^\d+$/.test(value)) throw new InvalidInputError(`lines=${value} is not a number of lines: use e.g. lines=200`);
  return Math.min(Number(value), MAX_LOG_LINES);
}

function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new InvalidInputError(`${encoded} is not a session key: keys are A-Z a-z 0-9 _ -`);
  }
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { engine } = options;
  const logTail = options.logTail ?? ((key: string, lines: number) => engine.capture(key, { lines }));
  const token = options.token ?? randomBytes(24).toString('base64url');
  const assets = await loadAssets();
  const chart = JSON.stringify(chartView());
  const feed = new SessionFeed(engine);
  const streams = new Set<ServerResponse>();
  let port = options.port ?? 0;

  const stream = (res: ServerResponse) => {
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('reset', feed.reset());
    const stop = feed.onUpdate((message) => send('update', message));
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    streams.add(res);
    res.on('close', () => {
      stop();
      clearInterval(keepalive);
      streams.delete(res);
    });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}:${port}`);
    const guard = { port, token };
    const asset = /^\/assets\/([^/]+)$/.exec(url.pathname)?.[1];
    if (asset !== undefined) {
      const refused = checkOrigin(req, guard);
      if (refused) return refuse(res, refused);
      const body = assets.get(asset);
      if (!body || req.method !== 'GET') return refuse(res, { status: 404, code: 'NOT_FOUND', message: `no asset ${asset}` });
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': assetType(asset)! }).end(body);
      return;
    }
    const match = /^\/api\/sessions\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
    const action = match && match[2] !== 'log' ? match[2]! : null;
    const refused = checkRequest(req, url, guard, { action: action !== null });
    if (refused) return refuse(res, refused);
    if (req.method !== 'GET' && action === null) {
      return refuse(res, { status: 405, code: 'INVALID_INPUT', message: 'only actions are POST requests' });
    }
    if (url.pathname === '/') {
      res
        .writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_POLICY })
        .end(pageHtml());
      return;
    }
    if (url.pathname === '/api/chart') {
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'application/json; charset=utf-8' }).end(chart);
      return;
    }
    if (url.pathname === '/api/events') return stream(res);
    if (!match) return refuse(res, { status: 404, code: 'NOT_FOUND', message: `nothing at ${url.pathname}` });
    try {
      const key = validateKey(decodeKey(match[1]!));
      if (action === null) {
        const lines = parseLines(url.searchParams.get('lines'));
        // As `warden logs`: the screen's empty bottom rows are layout, not output.
        const text = (await logTail(key, lines)).replace(/\s+$/, '');
        return reply(res, 200, { key, text });
      }
      if (!isUiAction(action)) {
        throw new InvalidInputError(`unknown action ${action}: use send, resume, fresh or end`);
      }
      const outcome = await runAction(engine, key, action, await readJson(req));
      feed.refresh();
      reply(res, 200, outcome);
    } catch (err) {
      reply(res, httpStatusOf(err), errorReply(err));
    }
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, httpStatusOf(err), errorReply(err));
      else res.destroy();
    });
  });
  try {
    port = await listenOnLoopback(server, port, 'UI_FAILED');
  } catch (err) {
    feed.close();
    throw err;
  }
  // Transitions are pushed as they come; the tick catches what changes without one.
  const tick = setInterval(() => feed.refresh(), options.intervalMs ?? 500);

  return {
    port,
    token,
    url: `http://${LOOPBACK}:${port}/?token=${token}`,
    async close() {
      clearInterval(tick);
      feed.close();
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
