/**
 * Invariant 14: a transition's hooks are queued in the state file's outbox in the same write as
 * the transition, run off the verb's critical path with bounded parallelism, and are delivered at
 * least once even when the verb that made the transition is interrupted or killed: the next
 * process, the watcher first, delivers what it left.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';
import { CLI, processStopped, readState, startWarden, type CliTarget } from './support/warden-cli.js';
import { Outbox } from '../src/engine/outbox.js';
import { selfOwner } from '../src/engine/ownership.js';
import { HookRunner } from '../src/hooks.js';
import { SessionInfoSchema, type OutboxEntry } from '../src/model/schema.js';
import { StateStore } from '../src/store/file-store.js';

const server = useTmuxServer('outbox');

async function run(t: CliTarget, args: string[]) {
  const r = await execa(process.execPath, [CLI, '--socket', t.socket, '--state', t.state, ...args], { reject: false, timeout: 60_000 });
  expect(r.timedOut, `warden ${args.join(' ')} did not return`).toBe(false);
  return r;
}

/** `count` running sessions, then the config, then their windows killed: the next reconcile orphans them all. */
async function orphansPending(name: string, count: number, hooks: object): Promise<{ t: CliTarget; keys: string[]; dir: string }> {
  const dir = join(server.dir, name);
  const t = { state: join(dir, 'state.json'), socket: server.socket };
  const keys = Array.from({ length: count }, (_, i) => `${name}-${i}`);
  for (const key of keys) expect((await run(t, ['spawn', key, '--', ...LONG_RUNNING])).exitCode).toBe(0);
  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ hooks }));
  const document = readState(t.state);
  for (const key of keys) await server.tmux.run(['kill-window', '-t', document.sessions[key]!.snapshot.context.windowId!]);
  return { t, keys, dir };
}

/** The transitions of the outbox whose hooks have not all run. */
const queued = (t: CliTarget) => readState(t.state).outbox ?? [];
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('hooks off the critical path, at least once (invariant 14)', () => {
  it('a hook that hangs does not hold ls: it returns after a short wait, and the watcher delivers what it left', async () => {
    const seen = join(server.dir, 'hang-seen');
    const { t, keys } = await orphansPending('hang', 5, {
      orphaned: { run: `echo "$WARDEN_KEY" >> ${seen}; [ -e ${seen}.go ] || exec sleep 3600`, timeoutMs: 3_600_000 },
    });
    const ls = await run(t, ['ls']);
    expect(ls.exitCode, ls.stderr).toBe(0);
    for (const key of keys) expect(readState(t.state).sessions[key]!.snapshot.value).toBe('orphaned');
    // Cut short, not lost: every transition is still in the outbox, released for the next process.
    expect(queued(t)).toHaveLength(5);
    expect(queued(t).map((entry) => entry.owner)).toEqual([null, null, null, null, null]);

    writeFileSync(`${seen}.go`, '');
    const watch = startWarden(t, ['watch']);
    try {
      await waitFor(() => queued(t).length === 0, 'the watcher to deliver the hooks left in the outbox', { timeoutMs: 20_000 });
    } finally {
      watch.kill('SIGTERM');
      await watch;
    }
    expect(new Set(lines(seen))).toEqual(new Set(keys));
  });

  it('a Ctrl-C\'d call loses none: the next call delivers every hook it left', async () => {
    const seen = join(server.dir, 'int-seen');
    const { t, keys } = await orphansPending('int', 4, { orphaned: `sleep 1; echo "$WARDEN_KEY" >> ${seen}` });
    const ls = startWarden(t, ['ls']);
    await waitFor(() => keys.every((key) => readState(t.state).sessions[key]?.snapshot.value === 'orphaned'), 'the orphans to be durable');
    ls.kill('SIGINT');
    await ls;

    // The next calls (any verb: they all load the hooks) deliver what is left, until none is.
    await waitFor(async () => {
      await run(t, ['ls']);
      return queued(t).length === 0;
    }, 'the outbox to empty', { timeoutMs: 30_000 });
    await waitFor(() => keys.every((key) => lines(seen).includes(key)), 'every orphaned hook to have run');
  });

  it('a call killed right after its transitions are written loses none: they were written with their hooks', async () => {
    const seen = join(server.dir, 'kill-seen');
    const { t, keys } = await orphansPending('kill', 3, { orphaned: `echo "$WARDEN_KEY" >> ${seen}` });
    // Stopped just after the write that makes them orphaned, before anything else runs; then killed.
    const ls = startWarden(t, ['ls'], { env: { WARDEN_TEST_PAUSE: 'after-replace' } });
    await waitFor(() => processStopped(ls.pid!), 'ls to stop right after its write');
    for (const key of keys) expect(readState(t.state).sessions[key]!.snapshot.value).toBe('orphaned');
    expect(queued(t).map((entry) => entry.transition.key).sort()).toEqual([...keys].sort());
    ls.kill('SIGKILL');
    await ls.catch(() => undefined);
    expect(lines(seen)).toEqual([]);

    // The next call (any verb) finds the hooks of a gone process in the outbox and delivers them.
    expect((await run(t, ['ls'])).exitCode).toBe(0);
    await waitFor(() => keys.every((key) => lines(seen).includes(key)), 'every orphaned hook to have run');
    await waitFor(() => queued(t).length === 0, 'the outbox to empty');
    expect(lines(seen).sort()).toEqual([...keys].sort());
  });

  it('runs the hooks of different sessions side by side, never more than 4 at once', async () => {
    const log = join(server.dir, 'par-log');
    const { t } = await orphansPending('par', 7, { orphaned: `echo start >> ${log}; sleep 0.5; echo end >> ${log}` });
    expect((await run(t, ['ls'])).exitCode).toBe(0);
    await waitFor(() => lines(log).length === 14 || queued(t).length === 0, 'the hooks to run');
    await waitFor(() => lines(log).filter((l) => l === 'end').length === lines(log).filter((l) => l === 'start').length, 'the hooks to end');
    let now = 0;
    let most = 0;
    for (const line of lines(log)) {
      now += line === 'start' ? 1 : -1;
      most = Math.max(most, now);
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });
});

describe('the outbox across processes with other configs and short waits', () => {
  const session = (key: string) =>
    SessionInfoSchema.parse({ key, state: 'orphaned', sessionId: null, group: null, windowId: null, paneId: null, pid: null, command: [], cwd: null, labels: {}, createdAt: null, updatedAt: null, exitStatus: null });
  const queuedEntry = (key: string, command: string): OutboxEntry => ({
    id: `id-${key}`,
    hooks: [{ hook: 'orphaned', command, timeoutMs: 60_000 }],
    cwd: null,
    owner: null,
    attempts: 0,
    transition: { key, sessionId: null, from: 'active.running.busy', to: 'orphaned', event: 'WINDOW_GONE', at: new Date().toISOString(), session: session(key) },
  });
  const self = selfOwner();

  it('a taker runs the hooks queued with the transition, not its own config; one never begun is not an attempt', async () => {
    const dir = join(server.dir, 'takers');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'state.json');
    const seen = join(dir, 'seen');
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    // k0's hook outlasts every short wait below; the others take no time.
    const command = `[ "$WARDEN_KEY" = k0 ] && sleep 5; echo "$WARDEN_KEY" >> ${seen}`;
    writeFileSync(file, JSON.stringify({ schemaVersion: 1, sessions: {}, history: [], outbox: keys.map((k) => queuedEntry(k, command)) }), { mode: 0o600 });
    const store = new StateStore(file);
    const other = join(dir, 'other-config-ran');
    // Five short-lived takers, one hook at a time, each waiting 300 ms: each begins k0 and no other.
    for (let call = 0; call < 5; call++) {
      const runner = new HookRunner({ hookTimeoutMs: 60_000, hooks: { orphaned: `echo "$WARDEN_KEY" >> ${other}` } }, { parallel: 1 });
      const outbox = new Outbox({ store, consumer: runner.outbox, self, alive: () => false });
      await outbox.take(await store.load());
      await runner.close({ waitMs: 300 });
      outbox.close();
    }
    const left = (await store.load()).outbox ?? [];
    // k0 was begun and cut short five times; the others were claimed five times and never begun: no attempt counted.
    expect(left.map((e) => [e.transition.key, e.attempts, e.owner])).toEqual(keys.map((k) => [k, k === 'k0' ? 5 : 0, null]));
    expect(lines(seen)).toEqual([]);
    // The next taker drops k0 (cut short too often, and says so) and delivers the rest: the queued hook, not its own config's.
    const reports: string[] = [];
    const runner = new HookRunner(
      { hookTimeoutMs: 60_000, hooks: { orphaned: `echo "$WARDEN_KEY" >> ${other}` } },
      { onResult: (result) => result.ok || reports.push(result.message) },
    );
    const outbox = new Outbox({ store, consumer: runner.outbox, self, alive: () => false });
    await outbox.take(await store.load());
    await runner.close();
    outbox.close();
    expect(lines(seen).sort()).toEqual(keys.slice(1));
    expect(lines(other)).toEqual([]);
    expect(reports).toEqual([expect.stringMatching(/^hooks for k0 \(active.running.busy → orphaned\) were dropped: its delivery was cut short/)]);
    expect((await store.load()).outbox).toBeUndefined();
  }, 60_000);

  it('a hook that ignores SIGTERM does not hold the caller past the short wait and a grace', async () => {
    const started = join(server.dir, 'stubborn-started');
    const runner = new HookRunner({ hookTimeoutMs: 60_000, hooks: { orphaned: `trap '' TERM; touch ${started}; sleep 60` } });
    runner.listener({ ...queuedEntry('stubborn', '').transition, origin: 'here' });
    await waitFor(() => existsSync(started), 'the hook to start');
    const closing = runner.close({ waitMs: 100 }).then(() => 'closed');
    // Before, close waited for the hook's own 60 s timeout; now SIGKILL follows SIGTERM after a grace.
    expect(await Promise.race([closing, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))])).toBe('closed');
  }, 20_000);
});
