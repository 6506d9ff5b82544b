/**
 * Seeing the session actors: `@statelyai/inspect`'s WebSocket inspector and inspector server for
 * the live view, and a JSONL log of the same inspection events for later. Only the verbs that
 * inspect load this module (dynamically), so the others' cold start does not pay for it.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { createInspector, createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import WebSocket, { WebSocketServer } from 'ws';
import type { InspectionEvent, Observer } from 'xstate';
import { InvalidInputError, WardenError } from '../model/errors.js';
import { LOOPBACK, listenOnLoopback } from './loopback.js';

export type { StatelyInspectionEvent };

/** What `createEngine({ inspect })` takes: an XState inspection observer or a plain function. */
export type InspectionObserver = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

/** Several inspection observers as one; a failing observer does not stop the others. */
export function combineObservers(observers: (InspectionObserver | undefined)[]): (event: InspectionEvent) => void {
  const present = observers.filter((o): o is InspectionObserver => o !== undefined);
  return (event) => {
    for (const observer of present) {
      try {
        if (typeof observer === 'function') observer(event);
        else observer.next?.(event);
      } catch {
        // Seeing the machines must never break them.
      }
    }
  };
}

const STATELY_TYPES = new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot']);
const ID_FIELDS = ['sessionId', 'rootId', 'parentId', 'sourceId'] as const;

/**
 * JSON of an inspection event. Actor refs serialize as `{ id }` through their own `toJSON`;
 * anything else seen twice on the way down (a cycle) is cut rather than thrown on.
 */
function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') return undefined;
    if (v && typeof v === 'object') {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    return v;
  });
}

/** Environment values of a session may be secrets: the inspector and the log get their names only. */
function redactEnv(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactEnv);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      k === 'env' && v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.keys(v).map((name) => [name, '[redacted]']))
        : redactEnv(v);
  }
  return out;
}

/**
 * XState numbers actors per process (`x:0`, `x:1`, …); qualified by the pid, the actors of two
 * processes (a log appended by several `warden` calls) stay apart in the inspector. Idempotent.
 */
function qualifyIds(event: Record<string, unknown>): Record<string, unknown> {
  for (const field of ID_FIELDS) {
    const id = event[field];
    if (typeof id === 'string' && /^x:\d+$/.test(id)) event[field] = `${id}@${process.pid}`;
  }
  return event;
}

/** A Stately inspection event as plain, redacted JSON data: what goes over the wire and into the log. */
export function serializeInspectionEvent(event: StatelyInspectionEvent): StatelyInspectionEvent {
  return qualifyIds(redactEnv(JSON.parse(safeJson(event))) as Record<string, unknown>) as unknown as StatelyInspectionEvent;
}

/** Waits for `promise`, at most `ms`; the timer does not keep the process alive afterwards. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Waits for the inspector's conversions, which it defers by one macrotask per event. */
async function drainInspector(): Promise<void> {
  await delay(1);
}

// ---------------------------------------------------------------- JSONL log

export interface InspectionLog {
  readonly path: string;
  /** Pass to `createEngine({ inspect })`. */
  readonly observer: Observer<InspectionEvent>;
  /** Events written so far. */
  written(): number;
  /** Writes what is still pending and closes the file. */
  close(): Promise<void>;
}

/**
 * Appends every inspection event, converted as the Stately inspector receives it (actor refs
 * reduced to their ids, snapshots as JSON), one JSON object per line, to `path` (mode 0600:
 * snapshots hold the session's command and cwd).
 */
export async function openInspectionLog(path: string): Promise<InspectionLog> {
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new InvalidInputError(
      `cannot write the inspection log ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): pass a writable file to --inspect-log`,
    );
  }
  let count = 0;
  let failure: unknown = null;
  stream.on('error', (err) => {
    failure = err;
  });
  const inspector = createInspector(
    {
      send(event) {
        if (failure) return;
        count += 1;
        stream.write(`${JSON.stringify(event)}\n`);
      },
    },
    { serialize: serializeInspectionEvent },
  );
  return {
    path,
    observer: inspector.inspect,
    written: () => count,
    async close() {
      await drainInspector();
      stream.end();
      if (!stream.closed) await once(stream, 'close').catch(() => undefined);
      if (failure) {
        throw new WardenError('STATE_IO', `the inspection log ${path} could not be written: ${String(failure)}`);
      }
    },
  };
}

/** The events of a log written by `openInspectionLog`, checked line by line. */
export async function readInspectionLog(path: string): Promise<StatelyInspectionEvent[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InvalidInputError(`cannot read the inspection log ${path} (${code}): pass a file written by --inspect-log`);
  }
  const events: StatelyInspectionEvent[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      event = null;
    }
    const fields = (event ?? {}) as { type?: unknown; sessionId?: unknown };
    if (typeof event !== 'object' || event === null || !STATELY_TYPES.has(String(fields.type)) || typeof fields.sessionId !== 'string') {
      throw new InvalidInputError(`${path} line ${index + 1} is not an inspection event: pass a file written by --inspect-log`);
    }
    events.push(event as unknown as StatelyInspectionEvent);
  }
  if (events.length === 0) throw new InvalidInputError(`${path} holds no inspection events: pass a file written by --inspect-log`);
  return events;
}

// ---------------------------------------------------------------- inspector server and client

export interface InspectorServer {
  port: number;
  /** The page to open in a browser: it embeds the Stately inspector and feeds it the events. */
  url: string;
  /** Where inspected processes (and the page) connect. */
  wsUrl: string;
  stop(): Promise<void>;
}

/** The inspector server replays command lines to its clients: it listens on loopback only. */
/** Events kept for a page opened after they were sent, as @statelyai/inspect's own server does. */
const REPLAY_BUFFER = 200;

/** The page: the Stately inspector in a frame, fed the relayed events (it needs the internet). */
function bridgePage(wsUrl: string, pageUrl: string): string {
  const src = pageUrl.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return `<!DOCTYPE html>
<html><head><title>warden inspect</title><style>*{margin:0;padding:0}html,body{height:100%}iframe{width:100%;height:100%;border:none}</style></head>
<body><iframe id="inspector" src="${src}"></iframe>
<script>
const frame = document.getElementById('inspector');
const buffer = [];
let connected = false;
window.addEventListener('message', (e) => {
  if (e.data && e.data.type === '@statelyai.connected') {
    connected = true;
    for (const event of buffer.splice(0)) frame.contentWindow.postMessage(event, '*');
  }
});
const ws = new WebSocket(${JSON.stringify(wsUrl)});
ws.onmessage = (m) => {
  const event = JSON.parse(m.data);
  if (connected) frame.contentWindow.postMessage(event, '*');
  else buffer.push(event);
};
</script></body></html>`;
}

/** The hosted Stately inspector, which the inspector server's page embeds. */
export const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';

/** The page to embed: `$WARDEN_STATELY_URL` (a self-hosted copy, say), else Stately's. */
export function statelyPageUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.WARDEN_STATELY_URL || STATELY_INSPECTOR_URL;
}

/**
 * Whether the Stately page can load from this machine: null when it answers, else why not (a
 * name that does not resolve, a refused connection, a timeout). Offline, the browser shows only
 * a grey frame with no word of explanation, so the CLI says it instead.
 */
export async function statelyPageProblem(url: string = statelyPageUrl(), timeoutMs = 3000): Promise<string | null> {
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return response.status >= 500 ? `HTTP ${response.status}` : null;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? (err instanceof Error ? err.name : String(err));
  }
}

/**
 * The inspector server: an HTTP page that embeds the Stately inspector, and a WebSocket relay that
 * forwards each client's events to the others (keeping the last 200 for a page opened later), as
 * `@statelyai/inspect/server` does, but on 127.0.0.1 only (that server has no host option and
 * listens on every interface). A browser page of another site is refused (its Origin is not ours).
 */
export async function startInspectorServer(port = 8080, pageUrl: string = statelyPageUrl()): Promise<InspectorServer> {
  let url = '';
  const http = createHttpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(bridgePage(url.replace(/^http/, 'ws'), pageUrl));
  });
  const relay = new WebSocketServer({
    server: http,
    // Node clients send no Origin; a browser always does, and only our own page may connect.
    verifyClient: ({ origin }: { origin?: string }) => !origin || origin === url || origin === url.replace(LOOPBACK, 'localhost'),
  });
  // The relay re-emits the HTTP server's errors (a port in use), which `listening` below reports.
  relay.on('error', () => undefined);
  const recent: string[] = [];
  relay.on('connection', (client) => {
    for (const message of recent) client.send(message);
    client.on('message', (data) => {
      const message = data.toString();
      recent.push(message);
      if (recent.length > REPLAY_BUFFER) recent.shift();
      for (const other of relay.clients) if (other !== client && other.readyState === WebSocket.OPEN) other.send(message);
    });
  });
  let bound: number;
  try {
    bound = await listenOnLoopback(http, port, 'INSPECTOR_FAILED');
  } catch (err) {
    relay.close();
    throw err;
  }
  url = `http://${LOOPBACK}:${bound}`;
  return {
    port: bound,
    url,
    wsUrl: `ws://${LOOPBACK}:${bound}`,
    async stop() {
      for (const client of relay.clients) client.terminate();
      relay.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

export interface LiveInspector {
  /** Pass to `createEngine({ inspect })`. */
  readonly observer: Observer<InspectionEvent>;
  stop(): Promise<void>;
}

/** `@statelyai/inspect`'s WebSocket inspector, sending every inspected actor's events to `wsUrl`. */
export function connectInspector(wsUrl: string): LiveInspector {
  const inspector = createWebSocketInspector({ url: wsUrl, serialize: serializeInspectionEvent });
  return {
    observer: inspector.inspect,
    async stop() {
      await drainInspector();
      inspector.stop();
    },
  };
}

/**
 * Streams the inspection events of a short-lived `warden` command to a running `warden inspect`
 * (env `WARDEN_INSPECT=ws://127.0.0.1:PORT`), so a spawn made elsewhere shows its `spawning` too.
 * `createWebSocketInspector` cannot say when its events have been sent, which a command that exits
 * right after needs: this is the same `createInspector` over a socket that `stop()` flushes. An
 * unreachable inspector costs one warning on stderr, never the command.
 */
export function streamToInspector(wsUrl: string): LiveInspector {
  const socket = new WebSocket(wsUrl);
  const queued: string[] = [];
  const sends: Promise<void>[] = [];
  let status: 'connecting' | 'open' | 'unreachable' = 'connecting';
  const transmit = (message: string) =>
    sends.push(new Promise<void>((resolve) => socket.send(message, () => resolve())));
  const settled = new Promise<void>((resolve) => {
    socket.once('open', () => {
      status = 'open';
      for (const message of queued.splice(0)) transmit(message);
      resolve();
    });
    socket.once('error', (err) => {
      status = 'unreachable';
      queued.length = 0;
      process.stderr.write(`warden: no inspector at ${wsUrl} (${err.message}): start 'warden inspect' or unset WARDEN_INSPECT\n`);
      resolve();
    });
  });
  const inspector = createInspector(
    {
      send(event) {
        const message = JSON.stringify(event);
        if (status === 'open') transmit(message);
        else if (status === 'connecting') queued.push(message);
      },
    },
    { serialize: serializeInspectionEvent },
  );
  return {
    observer: inspector.inspect,
    async stop() {
      await drainInspector();
      await within(settled, 2000);
      await within(Promise.all(sends), 2000);
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        const closed = once(socket, 'close').catch(() => undefined);
        socket.close();
        await within(closed, 2000);
      }
    },
  };
}

/**
 * Plays recorded events into the inspector server at `wsUrl`, in order, over one WebSocket
 * connection; resolves with the number sent once the server has them all.
 */
export async function replayInspectionEvents(wsUrl: string, events: StatelyInspectionEvent[]): Promise<number> {
  const socket = new WebSocket(wsUrl);
  try {
    await once(socket, 'open');
  } catch (err) {
    throw new WardenError('INSPECTOR_FAILED', `cannot reach the inspector server at ${wsUrl}: ${String(err)}`);
  }
  for (const event of events) {
    await new Promise<void>((resolve, reject) => socket.send(JSON.stringify(event), (err) => (err ? reject(err) : resolve())));
  }
  socket.close();
  await once(socket, 'close');
  return events.length;
}
