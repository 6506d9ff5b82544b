/**
 * examples/daemon.ts, built, as a user would run it: it rehydrates on start, reconciles on its
 * own, serves sessions on loopback HTTP, runs the hooks beside its state file, and on SIGTERM
 * ends by itself with status 0, leaving no process, client or handle behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionInfoSchema, createEngine, type SessionInfo } from '../src/index.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('daemon');
const DAEMON = join(import.meta.dirname, '..', 'dist', 'examples', 'daemon.js');

interface RunningDaemon {
  child: ChildProcess;
  url: string;
  tokenFile: string;
  lines: Record<string, unknown>[];
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Daemons a failed test did not stop: killed, so a failure leaves no process behind. */
const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function startDaemon(stateFile: string): Promise<RunningDaemon> {
  const child = spawn(process.execPath, [DAEMON, '--state', stateFile, '--socket', server.socket, '--port', '0', '--interval', '50'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const listening = await waitFor(() => lines.find((l) => typeof l.listening === 'string'), 'the daemon to listen');
  return { child, url: listening.listening as string, tokenFile: listening.tokenFile as string, lines, exited };
}

/** A request as a client of this user makes it: with the token of the daemon's 0600 file. */
async function call(daemon: RunningDaemon, method: string, path: string, body?: unknown, token = readFileSync(daemon.tokenFile, 'utf8').trim()) {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function sessionsOf(daemon: RunningDaemon): Promise<SessionInfo[]> {
  const { body } = await call(daemon, 'GET', '/sessions');
  return SessionInfoSchema.array().parse(body.sessions);
}

/** Pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGTERM, then the daemon must end by itself: a leaked watcher, timer or child would keep it up. */
async function stop(daemon: RunningDaemon): Promise<void> {
  const children = childrenOf(daemon.child.pid!);
  daemon.child.kill('SIGTERM');
  const stuck = new Promise<never>((_, reject) => {
    setTimeout(() => {
      daemon.child.kill('SIGKILL');
      reject(new Error('the daemon did not end by itself after SIGTERM: something leaked'));
    }, 10_000).unref();
  });
  const [code, signal] = await Promise.race([daemon.exited, stuck]);
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(daemon.lines.at(-1)).toEqual({ stopped: 'SIGTERM' });
  for (const pid of children) expect(existsSync(`/proc/${pid}`), `child ${pid} of the daemon`).toBe(false);
  const clients = await server.tmux.run(['list-clients', '-F', '#{client_pid}']).catch(() => '');
  expect(clients.trim(), 'tmux clients left attached').toBe('');
}

describe('examples/daemon.ts embeds the engine', () => {
  it('serves, reconciles by itself, runs hooks, stops cleanly, and a new daemon rehydrates', async () => {
    const stateFile = server.stateFile();
    const hookOut = join(server.dir, 'daemon-orphaned.txt');
    writeFileSync(join(server.dir, 'warden.config.json'), JSON.stringify({ hooks: { orphaned: `echo "$WARDEN_KEY" >> ${hookOut}` } }));

    const first = await startDaemon(stateFile);
    expect(new URL(first.url).hostname).toBe('127.0.0.1');
    expect(await sessionsOf(first)).toEqual([]);

    const spawned = await call(first, 'POST', '/sessions/agent', { command: LONG_RUNNING, labels: { ticket: 'T-7' } });
    expect(spawned.status).toBe(201);
    const agent = SessionInfoSchema.parse(spawned.body);
    expect(agent).toMatchObject({ key: 'agent', state: 'active', labels: { ticket: 'T-7' } });
    expect(await ownedWindows(server.tmux, agent.sessionId!)).toEqual([agent.windowId]);
    const lost = SessionInfoSchema.parse((await call(first, 'POST', '/sessions/lost', { command: LONG_RUNNING })).body);

    expect(await call(first, 'POST', '/sessions/agent', { command: LONG_RUNNING })).toMatchObject({
      status: 409,
      body: { error: { code: 'CONFLICT' } },
    });
    expect(await call(first, 'POST', '/sessions/bad key', { command: LONG_RUNNING })).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_INPUT' } },
    });
    expect(await call(first, 'POST', '/sessions/other', ['not', 'an', 'object'])).toMatchObject({
      status: 400,
      body: { error: { code: 'INVALID_INPUT' } },
    });
    expect((await call(first, 'GET', '/sessions/nobody')).status).toBe(404);

    // Nobody asks it to reconcile: its watch notices the window killed behind its back.
    await server.tmux.run(['kill-window', '-t', lost.windowId!]);
    await waitFor(async () => (await sessionsOf(first)).find((s) => s.key === 'lost')?.state === 'orphaned', 'the orphan');
    await waitFor(() => existsSync(hookOut) && readFileSync(hookOut, 'utf8') === 'lost\n', 'the orphaned hook');
    expect(first.lines).toContainEqual({
      transition: expect.objectContaining({ key: 'lost', from: expect.stringMatching(/^active\.running\.(busy|idle)$/), to: 'orphaned', event: 'WINDOW_GONE' }),
    });

    await stop(first);
    // Sessions outlive the daemon that started them.
    expect(await ownedWindows(server.tmux, agent.sessionId!)).toEqual([agent.windowId]);

    const second = await startDaemon(stateFile);
    expect(second.lines[0]).toMatchObject({ sessions: 2 });
    expect((await sessionsOf(second)).map((s) => [s.key, s.state, s.sessionId])).toEqual([
      ['agent', 'active', agent.sessionId],
      ['lost', 'orphaned', lost.sessionId],
    ]);
    const ended = await call(second, 'DELETE', '/sessions/agent');
    expect(ended).toMatchObject({ status: 200, body: { key: 'agent', state: 'normal' } });
    expect(await ownedWindows(server.tmux, agent.sessionId!)).toEqual([]);
    // Ended by a CLI call meanwhile, with nothing in tmux to notice (no window): the next GET says so.
    const cli = await createEngine({ stateFile, socket: server.socket });
    await cli.end('lost');
    await cli.close();
    expect(await sessionsOf(second)).toEqual([]);
    await stop(second);
  });

  it('changes nothing without the token of its 0600 file; a malformed %-escape is a 400', async () => {
    const daemon = await startDaemon(server.stateFile());
    try {
      expect(statSync(daemon.tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(daemon.tokenFile, 'utf8').trim();
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      const spawnBody = { command: LONG_RUNNING };
      for (const sent of ['', 'wrong', `${token}x`]) {
        expect(await call(daemon, 'POST', '/sessions/intruder', spawnBody, sent)).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } });
      }
      expect(await sessionsOf(daemon)).toEqual([]);
      expect((await call(daemon, 'POST', '/sessions/mine', spawnBody)).status).toBe(201);
      expect((await call(daemon, 'DELETE', '/sessions/mine', undefined, 'wrong')).status).toBe(401);
      expect((await sessionsOf(daemon)).map((s) => s.key)).toEqual(['mine']);
      expect(await call(daemon, 'GET', '/sessions/%E0%A4%A')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });
      expect(await call(daemon, 'DELETE', '/sessions/%zz')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });
      expect((await call(daemon, 'DELETE', '/sessions/mine')).status).toBe(200);
    } finally {
      await stop(daemon);
    }
    expect(existsSync(daemon.tokenFile)).toBe(false);
  });

  it('listens on loopback only, and refuses requests a web page could forge', async () => {
    const daemon = await startDaemon(server.stateFile());
    try {
      const port = new URL(daemon.url).port;
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === 'IPv4' && !address.internal);
      if (external) {
        await expect(fetch(`http://${external.address}:${port}/sessions`)).rejects.toThrow();
      }
      const forged = await fetch(`${daemon.url}/sessions/x`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ command: LONG_RUNNING }),
      });
      expect(forged.status).toBe(403);
      // fetch will not set Host, so a DNS-rebound request is made with node:http.
      const rebound = await new Promise<number | undefined>((resolve, reject) => {
        get(`${daemon.url}/sessions`, { headers: { host: `evil.example:${port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
      expect(rebound).toBe(403);
      expect(await sessionsOf(daemon)).toEqual([]);
    } finally {
      await stop(daemon);
    }
  });
});
