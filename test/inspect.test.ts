/**
 * Seeing the machines live: every session actor is inspected (spawned, rehydrated, picked up from
 * another process), the inspector server relays its events to a WebSocket client, and the same
 * events go to a JSONL log that `warden inspect --replay` plays back.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import WebSocket from 'ws';
import type { InspectionEvent } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { StatelyInspectionEvent } from '../src/observe/inspect.js';
import { connectInspector, readInspectionLog, startInspectorServer } from '../src/observe/inspect.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('inspect');
const cli = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
const children: ResultPromise[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** A WebSocket client of the inspector server, keeping every event it hears. */
async function listen(wsUrl: string): Promise<{ events: StatelyInspectionEvent[]; close: () => void }> {
  const socket = new WebSocket(wsUrl);
  const events: StatelyInspectionEvent[] = [];
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as StatelyInspectionEvent));
  await once(socket, 'open');
  return { events, close: () => socket.close() };
}

function snapshotsOf(events: StatelyInspectionEvent[], key: string) {
  return events
    .filter((e): e is StatelyInspectionEvent & { type: '@xstate.snapshot' } => e.type === '@xstate.snapshot')
    .filter((e) => (e.snapshot as { context?: { key?: string } }).context?.key === key)
    .map((e) => ({ value: (e.snapshot as unknown as { value: unknown }).value, event: e.event.type }));
}

function warden(args: string[], stateFile: string, env: Record<string, string> = {}) {
  return execa('node', [cli, ...args], {
    reject: false,
    env: { WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: server.socket, ...env },
  });
}

describe('cold start', () => {
  /**
   * Every module the built CLI asks for while running `args`: ESM specifiers through a loader
   * hook (the launcher, and dynamic imports) and CommonJS requests through a preload (the bundle
   * requires its externals and Node's built-ins). The bundle holds the rest of the code; what sits
   * behind a dynamic import in it is evaluated only when reached.
   */
  let runs = 0;
  async function loadedBy(args: string[]): Promise<string[]> {
    const loaded = `${server.dir}/loaded-${++runs}.txt`;
    const hooks = `${server.dir}/hooks-${runs}.mjs`;
    const preload = `${server.dir}/preload-${runs}.cjs`;
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n` +
        `  appendFileSync(${JSON.stringify(loaded)}, specifier + '\\n');\n  return next(specifier, context);\n}\n`,
    );
    writeFileSync(
      preload,
      `const { appendFileSync } = require('node:fs');\nconst Module = require('node:module');\nconst load = Module._load;\n` +
        `Module._load = function (request, ...rest) {\n  appendFileSync(${JSON.stringify(loaded)}, request + '\\n');\n  return load.call(this, request, ...rest);\n};\n`,
    );
    const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(pathToFileURL(hooks).href)});`;
    const result = await execa('node', ['--require', preload, '--import', register, cli, ...args], {
      reject: false,
      env: { WARDEN_STATE: server.stateFile(), WARDEN_TMUX_SOCKET: server.socket },
    });
    expect(result.exitCode).toBe(0);
    return readFileSync(loaded, 'utf8').split('\n');
  }
  const inspectorModules = (specifiers: string[]) => specifiers.filter((s) => /statelyai|^ws$/.test(s));

  it('a verb that does not inspect never loads the inspector', async () => {
    const plain = await loadedBy(['ls', '--json']);
    expect(plain).toContain('node:vm'); // the launcher, seen by the hooks
    expect(inspectorModules(plain)).toEqual([]);
    // The same hooks see the inspector when a run does inspect.
    const logged = await loadedBy(['--inspect-log', `${server.dir}/cold.jsonl`, 'ls', '--json']);
    expect(inspectorModules(logged)).not.toEqual([]);
  });
});

describe('createEngine({ inspect }): every session actor is inspected', () => {
  it('a spawned actor, its launch service, and actors rehydrated or picked up later by another engine', async () => {
    const seen: InspectionEvent[] = [];
    const first = await server.engine({ inspect: (e) => seen.push(e) });
    const info = await first.spawn('seen', { command: LONG_RUNNING });
    const actors = seen.filter((e) => e.type === '@xstate.actor');
    const idOf = (e: InspectionEvent) => (e.actorRef as unknown as { id: string; sessionId: string });
    const root = actors.find(
      (e) => idOf(e).sessionId === e.rootId && (e.actorRef.getSnapshot() as { context: { key: string } }).context.key === 'seen',
    );
    expect(root).toBeDefined();
    expect(actors.some((e) => idOf(e).id === 'launch' && e.rootId === root!.rootId)).toBe(true);

    // A second engine on the same file (another process, in effect): it shows the session at
    // once, and later sessions it only hears of through the file.
    const later: InspectionEvent[] = [];
    const second = await server.engine({ stateFile: first.stateFile, inspect: { next: (e) => later.push(e) } });
    const keyOf = (e: InspectionEvent) => (e.actorRef.getSnapshot() as { context?: { key?: string } }).context?.key;
    expect(later.some((e) => e.type === '@xstate.actor' && keyOf(e) === 'seen')).toBe(true);
    await first.spawn('later', { command: LONG_RUNNING });
    await second.reconcile();
    expect(later.some((e) => e.type === '@xstate.actor' && keyOf(e) === 'later')).toBe(true);

    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    await second.reconcile();
    expect(
      later.some((e) => e.type === '@xstate.snapshot' && keyOf(e) === 'seen' && (e.snapshot as unknown as { value: unknown }).value === 'orphaned'),
    ).toBe(true);
  });
});

describe('inspector server', () => {
  it('on a free port, relays a spawned session’s snapshot events to a WebSocket client', async () => {
    const inspector = await startInspectorServer(0);
    try {
      expect(inspector.port).toBeGreaterThan(0);
      const page = await fetch(inspector.url).then((r) => r.text());
      expect(page).toContain('https://stately.ai/inspect');
      const client = await listen(inspector.wsUrl);
      const live = connectInspector(inspector.wsUrl);
      const engine = await server.engine({ inspect: live.observer });
      await engine.spawn('relayed', { command: LONG_RUNNING, env: { API_TOKEN: 'hunter2' } });
      const states = await waitFor(() => {
        const values = snapshotsOf(client.events, 'relayed').map((s) => JSON.stringify(s.value));
        return values.includes('{"active":{"running":"busy"}}') ? values : null;
      }, 'the active snapshot at the WebSocket client');
      expect(states).toEqual(expect.arrayContaining(['"normal"', '"spawning"', '{"active":{"running":"busy"}}']));
      const actor = client.events.find((e) => e.type === '@xstate.actor' && e.name === 'warden-session');
      expect(JSON.parse((actor as { definition: string }).definition)).toMatchObject({ id: 'warden-session', initial: 'normal' });
      expect(JSON.stringify(client.events)).not.toContain('hunter2');
      await live.stop();
      client.close();
    } finally {
      await inspector.stop();
    }
  });
});

describe('inspector server reach', () => {
  it('listens on 127.0.0.1 only, and refuses a browser page of another origin', async () => {
    const inspector = await startInspectorServer(0);
    try {
      expect(new URL(inspector.url).hostname).toBe('127.0.0.1');
      const external = Object.values(networkInterfaces())
        .flat()
        .filter((a) => a !== undefined && !a.internal && !a.address.startsWith('fe80'))
        .map((a) => (a!.family === 'IPv6' ? `[${a!.address}]` : a!.address));
      for (const address of external) {
        await expect(fetch(`http://${address}:${inspector.port}/`), `reached on ${address}`).rejects.toThrow();
      }
      const forged = new WebSocket(inspector.wsUrl, { origin: 'https://evil.example' });
      const refusedWith = await new Promise<string>((resolve) => {
        forged.once('open', () => resolve('open'));
        forged.once('error', (err) => resolve(err.message));
      });
      expect(refusedWith).toMatch(/401|403/);
      const own = new WebSocket(inspector.wsUrl, { origin: inspector.url });
      await once(own, 'open');
      own.close();
    } finally {
      await inspector.stop();
    }
  });
});

describe('warden inspect', () => {
  it('prints the URL and shows a session go spawning → active → orphaned as its window is killed; stops on SIGTERM', async () => {
    const stateFile = server.stateFile();
    const child = execa('node', [cli, 'inspect', '--port', '0'], {
      reject: false,
      env: { WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: server.socket },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    const url = await waitFor(
      () => (stdout.includes('WARDEN_INSPECT=') ? /open (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] : undefined),
      'the inspector URL',
    );
    const client = await listen(url.replace('http', 'ws'));

    // Spawned by another command that streams to the inspector (and logs to a file as well).
    const wsUrl = url.replace('http', 'ws');
    expect(stdout).toContain(`WARDEN_INSPECT=${wsUrl}`);
    const log = `${server.dir}/spawn.jsonl`;
    const spawned = await warden(['--inspect-log', log, 'spawn', 'watched', '--', ...LONG_RUNNING], stateFile, {
      WARDEN_INSPECT: wsUrl,
    });
    expect(spawned.exitCode).toBe(0);
    const states = () => snapshotsOf(client.events, 'watched').map((s) => JSON.stringify(s.value));
    await waitFor(() => states().includes('{"active":{"running":"busy"}}'), 'the active snapshot');
    expect(states()).toContain('"spawning"');
    const windowId = JSON.parse((await warden(['status', 'watched', '--json'], stateFile)).stdout).windowId as string;
    await server.tmux.run(['kill-window', '-t', windowId]);
    await waitFor(
      () => snapshotsOf(client.events, 'watched').some((s) => s.value === 'orphaned'),
      'the orphaned snapshot',
    ).catch((err: Error) => {
      const seen = snapshotsOf(client.events, 'watched').map((s) => JSON.stringify(s.value));
      throw new Error(`${err.message}; the client saw ${seen.join(', ')}; inspect printed: ${stdout} ${stderr}`);
    });
    await waitFor(() => /watched  active\.running\.(busy|idle) → orphaned  \(WINDOW_GONE\)/.test(stdout), 'the printed transition');

    // The spawning process logged its own actor going spawning → active.
    const logged = await readInspectionLog(log);
    expect(snapshotsOf(logged, 'watched').map((s) => JSON.stringify(s.value))).toEqual(
      expect.arrayContaining(['"spawning"', '{"active":{"running":"busy"}}']),
    );
    client.close();
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
  });

  it('--replay plays a recorded log into the inspector, event for event', async () => {
    const stateFile = server.stateFile();
    const log = `${server.dir}/replay.jsonl`;
    expect((await warden(['--inspect-log', log, 'spawn', 'replayed', '--', ...LONG_RUNNING], stateFile)).exitCode).toBe(0);
    expect((await warden(['--inspect-log', log, 'end', 'replayed'], stateFile)).exitCode).toBe(0);
    const recorded = readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as StatelyInspectionEvent);
    expect(snapshotsOf(recorded, 'replayed').map((s) => s.value)).toEqual(expect.arrayContaining(['ending', 'normal']));

    const child = execa('node', [cli, 'inspect', '--port', '0', '--replay', log], { reject: false });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
    await waitFor(() => stdout.includes(`replayed ${recorded.length} events`), 'the replay');
    const url = /open (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
    // A client that connects afterwards gets what the server kept (the last 200).
    const client = await listen(url.replace('http', 'ws'));
    await waitFor(() => client.events.length >= Math.min(recorded.length, 200), 'the replayed events');
    expect(client.events).toEqual(recorded.slice(-200));
    client.close();
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('refuses a file that is not an inspection log (exit 2) and a port in use (exit 3)', async () => {
    const bad = `${server.dir}/not-a-log.jsonl`;
    writeFileSync(bad, '{"hello":"world"}\n');
    const refused = await warden(['inspect', '--replay', bad], server.stateFile());
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('line 1 is not an inspection event');
    writeFileSync(bad, '');
    const empty = await warden(['inspect', '--replay', bad], server.stateFile());
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('holds no inspection events');
    const missing = await warden(['inspect', '--replay', server.dir], server.stateFile());
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('cannot read the inspection log');

    const busy = createServer().listen(0);
    await once(busy, 'listening');
    const port = (busy.address() as { port: number }).port;
    const taken = await warden(['inspect', '--port', String(port)], server.stateFile());
    busy.close();
    expect(taken.exitCode).toBe(3);
    expect(taken.stderr).toContain(`port ${port} is in use`);
  });

  it('says when the Stately page cannot load from here, and points at warden ui', async () => {
    // A port nothing listens on stands for the internet being out of reach.
    const closed = createServer().listen(0);
    await once(closed, 'listening');
    const port = (closed.address() as { port: number }).port;
    closed.close();
    await once(closed, 'close');
    const page = `http://127.0.0.1:${port}/inspect`;
    const child = execa('node', [cli, 'inspect', '--port', '0'], {
      reject: false,
      env: { WARDEN_STATE: server.stateFile(), WARDEN_TMUX_SOCKET: server.socket, WARDEN_STATELY_URL: page },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
    await waitFor(() => stderr.includes('cannot load'), `the offline notice (inspect printed: ${stdout} ${stderr})`);
    expect(stderr).toContain(
      `warden: the Stately inspector page (${page}) cannot load from here (ECONNREFUSED): it needs the internet; 'warden ui' shows every session and its statechart offline\n`,
    );
    // The page the inspector server serves embeds that same page.
    const url = /open (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
    expect(await (await fetch(url)).text()).toContain(`src="${page}"`);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('--json: the first line is the URL as JSON, then one JSON transition per line', async () => {
    const stateFile = server.stateFile();
    const child = execa('node', [cli, '--json', 'inspect', '--port', '0'], {
      reject: false,
      env: { WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: server.socket },
    });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
    const first = await waitFor(() => (stdout.includes('\n') ? stdout.split('\n')[0] : undefined), 'the first line');
    const { url, wsUrl } = JSON.parse(first) as { url: string; wsUrl: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(wsUrl).toBe(url.replace('http', 'ws'));
    const spawned = await warden(['spawn', 'json-seen', '--json', '--', ...LONG_RUNNING], stateFile);
    await server.tmux.run(['kill-window', '-t', (JSON.parse(spawned.stdout) as { windowId: string }).windowId]);
    const orphaned = await waitFor(
      () =>
        stdout
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { key: string; from: string; to: string; session: { state: string } })
          .find((t) => t.key === 'json-seen' && t.to === 'orphaned'),
      'the orphaned transition as JSON',
    );
    expect(orphaned).toMatchObject({ from: expect.stringMatching(/^active\.running\.(busy|idle)$/), session: { state: 'orphaned' } });
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('WARDEN_INSPECT without an inspector listening costs a warning, never the command', async () => {
    const stateFile = server.stateFile();
    const result = await warden(['spawn', 'unwatched', '--', ...LONG_RUNNING], stateFile, { WARDEN_INSPECT: 'ws://localhost:1' });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('no inspector at ws://localhost:1');
    expect(JSON.parse((await warden(['status', 'unwatched', '--json'], stateFile)).stdout).state).toBe('active');
  });
});
