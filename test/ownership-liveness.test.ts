/**
 * Invariant 11 for in-flight work: a `spawning` record belongs to its process for as long as that
 * process lives (pid + start time + boot id), never until a wall-clock lease runs out; and a
 * process never touches, nor rolls back by tag, work that has become another's.
 */
import { isRunning } from '../machines/paths.js';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { SessionInfo, StateDocument } from '../src/model/schema.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';
import { processStopped, readState, startWarden, warden, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('liveness');


/** Edits the state file behind everyone's back (nobody holds the lock: the spawn is stopped after its write). */
function edit(file: string, change: (document: StateDocument) => void): void {
  const document = JSON.parse(readFileSync(file, 'utf8')) as StateDocument;
  change(document);
  writeFileSync(file, JSON.stringify(document));
}

/** A CLI spawn stopped (SIGSTOP) with its `spawning` record durable and tmux not yet asked. */
async function stoppedSpawn(t: CliTarget, key: string) {
  const spawn = startWarden(t, ['--json', 'spawn', key, '--', ...LONG_RUNNING], { env: { WARDEN_TEST_PAUSE: 'before-launch' } });
  await waitFor(() => processStopped(spawn.pid!), 'the spawn to stop before it launches');
  const record = readState(t.state).sessions[key]!;
  expect(record.snapshot.value).toBe('spawning');
  expect(record.owner).toMatchObject({ pid: spawn.pid, host: hostname(), startTicks: expect.any(Number), bootId: expect.any(String) });
  return { spawn, sessionId: record.snapshot.context.sessionId! };
}

describe('owners by liveness, not by the clock (invariant 11)', () => {
  it('a spawn stopped past any lease, or across a clock step, stays its own: ls leaves it, and it finishes in one window', async () => {
    const t = { state: server.stateFile(), socket: server.socket };
    const { spawn, sessionId } = await stoppedSpawn(t, 'stalled');
    // As if the clock stepped two hours forward, or the spawn had been stopped that long: the
    // record's stamp is two hours old for the ls below (then put back as the spawn wrote it).
    const asWritten = readFileSync(t.state);
    edit(t.state, (d) => {
      d.sessions.stalled!.updatedAt = new Date(Date.now() - 2 * 3_600_000).toISOString();
    });

    const ls = await warden(t, ['--json', 'ls']);
    expect(ls.exitCode, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions).toMatchObject([{ key: 'stalled', state: 'spawning', sessionId }]);
    expect(await ownedWindows(server.tmux, sessionId)).toEqual([]);
    writeFileSync(t.state, asWritten);

    spawn.kill('SIGCONT');
    const done = await spawn;
    expect(done.exitCode, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ key: 'stalled', state: 'active', sessionId });
    expect(await ownedWindows(server.tmux, sessionId)).toHaveLength(1);
    const after = await warden(t, ['--json', 'ls']);
    expect((JSON.parse(after.stdout) as { sessions: SessionInfo[] }).sessions).toMatchObject([{ key: 'stalled', state: 'active', sessionId }]);
    expect((await warden(t, ['end', 'stalled'])).exitCode).toBe(0);
  });

  it('a spawn taken over while it was stopped touches nothing when it resumes: exit 3, the other process\'s window stays', async () => {
    const t = { state: server.stateFile(), socket: server.socket };
    const { spawn, sessionId } = await stoppedSpawn(t, 'taken');
    // Its owner judged gone (the pid of a process that has exited): the next ls takes the launch over.
    const gone = spawnSync('true').pid!;
    edit(t.state, (d) => {
      d.sessions.taken!.owner = { pid: gone, host: hostname() };
    });
    const ls = await warden(t, ['--json', 'ls']);
    expect((JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions).toMatchObject([{ key: 'taken', state: 'active', sessionId }]);
    const windows = await ownedWindows(server.tmux, sessionId);
    expect(windows).toHaveLength(1);

    spawn.kill('SIGCONT');
    const resumed = await spawn;
    expect(resumed.exitCode).toBe(3);
    expect(resumed.stderr).toMatch(/taken (?:was changed|over) by another process/);
    expect(await ownedWindows(server.tmux, sessionId)).toEqual(windows);
    expect(isRunning(readState(t.state).sessions.taken!.snapshot.value)).toBe(true);
    expect((await warden(t, ['end', 'taken'])).exitCode).toBe(0);
  });
});
