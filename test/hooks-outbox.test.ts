/**
 * Invariant 14: a transition's hooks are kept (spooled beside the state file) before they run, run
 * off the verb's critical path with bounded parallelism, and are delivered at least once even
 * when the verb that made the transition is interrupted: the next process, the watcher first,
 * delivers what it left.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';
import { CLI, readState, startWarden, type CliTarget } from './support/warden-cli.js';

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

const spooled = (t: CliTarget) => (existsSync(`${t.state}.hooks`) ? readdirSync(`${t.state}.hooks`) : []);
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
    // Cut short, not lost: every transition is still in the spool.
    expect(spooled(t)).toHaveLength(5);

    writeFileSync(`${seen}.go`, '');
    const watch = startWarden(t, ['watch']);
    try {
      await waitFor(() => spooled(t).length === 0, 'the watcher to deliver the spooled hooks', { timeoutMs: 20_000 });
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
      return spooled(t).length === 0;
    }, 'the spool to empty', { timeoutMs: 30_000 });
    await waitFor(() => keys.every((key) => lines(seen).includes(key)), 'every orphaned hook to have run');
  });

  it('runs the hooks of different sessions side by side, never more than 4 at once', async () => {
    const log = join(server.dir, 'par-log');
    const { t } = await orphansPending('par', 7, { orphaned: `echo start >> ${log}; sleep 0.5; echo end >> ${log}` });
    expect((await run(t, ['ls'])).exitCode).toBe(0);
    await waitFor(() => lines(log).length === 14 || spooled(t).length === 0, 'the hooks to run');
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
