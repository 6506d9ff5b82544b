/**
 * Invariant 14: a transition's hooks are queued in the state file's outbox in the same write as
 * the transition, run off the verb's critical path with bounded parallelism, and are delivered at
 * least once even when the verb that made the transition is interrupted or killed: the next
 * process, the watcher first, delivers what it left.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';
import { CLI, processStopped, readState, startWarden, type CliTarget } from './support/warden-cli.js';

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
