/**
 * Records that pass the schema but cannot progress: a `spawning` or `ending` snapshot whose
 * invoked service is missing from `children` (XState never restarts an invoke on restore). Each
 * converges (the service is put back and run) or, when it cannot be, is reported; no verb waits
 * on it unboundedly.
 */
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { PersistedSnapshot, SessionInfo } from '../src/model/schema.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, ownedWindows, useTmuxServer } from './support/tmux-server.js';
import { CLI, readState, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('stuck');

/** A verb with a hard limit: one that loops is killed, and the test says so instead of hanging. */
async function bounded(t: CliTarget, args: string[]) {
  const r = await execa(process.execPath, [CLI, '--socket', t.socket, '--state', t.state, ...args], { reject: false, timeout: 30_000 });
  expect(r.timedOut, `warden ${args.join(' ')} did not return`).toBe(false);
  return r;
}

/** The snapshot with its invoked services dropped, as a hand edit or another tool could leave it. */
function withoutChildren(snapshot: PersistedSnapshot): PersistedSnapshot {
  return { ...snapshot, children: {} } as PersistedSnapshot;
}

describe('in-flight records with no service in their snapshot', () => {
  it('a spawning record with empty children converges on the next ls: one window, active', async () => {
    const t = { state: server.stateFile(), socket: server.socket };
    const sessionId = randomUUID();
    await writeRecord(t.state, 'nochild', withoutChildren(await persistedIn('spawning', 'nochild', spec(LONG_RUNNING), sessionId)));

    const ls = await bounded(t, ['--json', 'ls']);
    expect(ls.exitCode, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions).toMatchObject([{ key: 'nochild', state: 'active', sessionId }]);
    expect(await ownedWindows(server.tmux, sessionId)).toHaveLength(1);
    expect((await bounded(t, ['end', 'nochild'])).exitCode).toBe(0);
  });

  it('an ending record with empty children is finished: its window killed, the record gone, a history entry kept', async () => {
    const t = { state: server.stateFile(), socket: server.socket };
    const spawned = await bounded(t, ['--json', 'spawn', 'halfended', '--', ...LONG_RUNNING]);
    const info = JSON.parse(spawned.stdout) as SessionInfo;
    const ending = await persistedIn('ending', 'halfended', spec(LONG_RUNNING), info.sessionId!, {
      windowId: info.windowId!,
      paneId: info.paneId!,
      pid: info.pid!,
      dead: false,
      exitStatus: null,
    });
    await writeRecord(t.state, 'halfended', withoutChildren(ending));

    const ls = await bounded(t, ['--json', 'ls']);
    expect(ls.exitCode, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as { sessions: SessionInfo[] }).sessions).toEqual([]);
    expect(await ownedWindows(server.tmux, info.sessionId!)).toEqual([]);
    expect(readState(t.state).history.map((h) => h.key)).toContain('halfended');
  });

  it('one that cannot be restarted (no session id) is reported by doctor and refused by end, never waited on', async () => {
    const t = { state: server.stateFile(), socket: server.socket };
    const snapshot = withoutChildren(await persistedIn('spawning', 'hopeless', spec(LONG_RUNNING), randomUUID()));
    await writeRecord(t.state, 'hopeless', { ...snapshot, context: { ...snapshot.context, sessionId: null } } as PersistedSnapshot);

    expect((await bounded(t, ['ls'])).exitCode).toBe(0);
    const end = await bounded(t, ['end', 'hopeless']);
    expect(end.exitCode).toBe(1);
    expect(end.stderr).toMatch(/hopeless cannot be loaded .*can never finish.*warden doctor/);
    const doctor = await bounded(t, ['--json', 'doctor']);
    expect(doctor.exitCode).toBe(1);
    expect((JSON.parse(doctor.stdout) as { problems: string[] }).problems.join('\n')).toMatch(/session hopeless cannot be loaded \(.*can never finish\)/);
  });
});
