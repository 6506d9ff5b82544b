/**
 * Test support: a real tmux server on a socket of its own per test file, killed afterwards, and
 * state files in a temporary directory. Never the user's default server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../src/engine.js';
import { Tmux } from '../../src/tmux.js';

export interface TmuxTestServer {
  socket: string;
  tmux: Tmux;
  dir: string;
  /** A new state file path in the test directory. */
  stateFile(): string;
  /** An engine on this server; closed after the file's tests. */
  engine(options?: EngineOptions): Promise<Engine>;
  /** Whether a control client (what `watch` attaches) is attached to this server now. */
  controlClientAttached(): Promise<boolean>;
}

export function useTmuxServer(name: string): TmuxTestServer {
  const socket = `warden-test-${name}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const tmux = new Tmux({ socket: { name: socket } });
  const dir = mkdtempSync(join(tmpdir(), `warden-${name}-`));
  const engines: Engine[] = [];
  let files = 0;
  afterAll(async () => {
    for (const engine of engines) await engine.close().catch(() => undefined);
    await tmux.killServer().catch(() => undefined);
    // A pane's log pipe can still be writing its last bytes as the server dies: retry the removal.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  const server: TmuxTestServer = {
    socket,
    tmux,
    dir,
    stateFile: () => join(dir, `state-${++files}.json`),
    async engine(options = {}) {
      const engine = await createEngine({ stateFile: server.stateFile(), socket, ...options });
      engines.push(engine);
      return engine;
    },
    async controlClientAttached() {
      const out = await tmux.run(['list-clients', '-F', '#{client_control_mode}']).catch(() => '');
      return out.split('\n').includes('1');
    },
  };
  return server;
}

/** Polls `condition` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The windows tmux shows carrying `@warden_id` = sessionId. */
export async function ownedWindows(tmux: Tmux, sessionId: string): Promise<string[]> {
  const probe = await tmux.probeAll();
  if (probe.kind !== 'ok') return [];
  return [...new Set(probe.panes.filter((p) => p.tag === sessionId).map((p) => p.windowId))];
}

/** A program that stays up until killed. */
export const LONG_RUNNING = ['sleep', '600'];

