/**
 * The `warden` verbs about sessions already there (ls, status, end, gc, history), driven as
 * subprocesses of the built CLI against a real tmux server on a private socket: human output,
 * --json shape (parsed by the schema), exit code, and what tmux and the state file really show.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema } from '../src/model/schema.js';
import { LONG, json, readState, refused, session, warden } from './support/cli.js';
import { realTmux } from './support/fault-tmux.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { ownedWindows, useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('cli-list');
const { tmux } = server;

const SessionsSchema = z.object({ sessions: z.array(SessionInfoSchema) }).strict();
const GcSchema = z
  .object({
    dryRun: z.boolean(),
    sessions: z.array(SessionInfoSchema),
    failed: z.array(z.object({ key: z.string() }).loose()),
    logsRemoved: z.array(z.string()),
    keptWorktrees: z.array(z.object({ path: z.string() }).loose()),
  })
  .strict();
const HistorySchema = z.object({ history: z.array(HistoryEntrySchema) }).strict();

async function killWindow(windowId: string | null): Promise<void> {
  await tmux.run(['kill-window', '-t', windowId!]);
}

describe.concurrent('ls (after one reconcile)', () => {
  it('prints a table for people: key, state, activity and its age, age, window, pid, exit status, command; plain when piped', async () => {
    const w = warden(server);
    const a = session(await w.run(['spawn', 'one', '--json', ...LONG]));
    const b = session(await w.run(['spawn', 'two', '--json', '--', 'sh', '-c', 'exit 3']));
    await w.run(['spawn', 'three', '--json', ...LONG]).then(session).then((s) => killWindow(s.windowId));
    let table = '';
    for (let i = 0; i < 200 && !/exited/.test(table); i++) table = (await w.run(['ls'])).stdout;
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+STATE\s+ACTIVITY\s+AGE\s+WINDOW\s+PID\s+EXIT\s+COMMAND$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^one\\s+running\\s+(busy|idle) \\d+s\\s+\\d+s\\s+${a.windowId}\\s+${a.pid}\\s+-\\s+sleep 600$`)),
      expect.stringMatching(/^three\s+orphaned\s+-\s+\d+s\s+-\s+-\s+-\s+sleep 600$/),
      expect.stringMatching(new RegExp(`^two\\s+exited\\s+-\\s+\\d+s\\s+${b.windowId}\\s+\\d+\\s+3\\s+sh -c 'exit 3'$`)),
    ]);
    expect(table).not.toContain('\x1b');
  });

  it('colours on request (FORCE_COLOR) and never with NO_COLOR', async () => {
    const w = warden(server);
    await w.run(['spawn', 'hue', ...LONG]);
    const forced = await w.run(['ls'], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\x1b[32mrunning\x1b[39m');
    const plain = await w.run(['ls'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(plain.stdout).not.toContain('\x1b');
    expect(plain.stdout).toMatch(/^hue\s+running/m);
  });

  it('--json gives {"sessions":[…]} of session objects, reconciled: a killed window shows orphaned', async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'gone', '--json', ...LONG]));
    await killWindow(s.windowId);
    const { sessions } = json(SessionsSchema, await w.run(['ls', '--json']));
    expect(sessions).toEqual([expect.objectContaining({ key: 'gone', state: 'orphaned', sessionId: s.sessionId })]);
    expect(readState(w.stateFile).sessions.gone?.snapshot.value).toBe('orphaned');
  });

  it('--label K=V filters; repeated labels must all match', async () => {
    const w = warden(server);
    await w.run(['spawn', 't1', '--label', 'ticket=T-1', '--label', 'team=a', ...LONG]);
    await w.run(['spawn', 't2', '--label', 'ticket=T-2', '--label', 'team=a', ...LONG]);
    await w.run(['spawn', 't3', ...LONG]);
    const keys = async (...labels: string[]) =>
      json(SessionsSchema, await w.run(['ls', '--json', ...labels.flatMap((l) => ['--label', l])])).sessions.map((s) => s.key);
    expect(await keys()).toEqual(['t1', 't2', 't3']);
    expect(await keys('team=a')).toEqual(['t1', 't2']);
    expect(await keys('team=a', 'ticket=T-2')).toEqual(['t2']);
    expect(await keys('ticket=T-9')).toEqual([]);
    expect(await w.run(['ls', '--label', 'ticket=T-9'])).toMatchObject({ stdout: '', stderr: 'warden: no session carries those labels\n' });
  });

  it('says how to start when there is nothing, on stderr: an empty list prints nothing on stdout', async () => {
    const w = warden(server);
    expect(await w.run(['ls'])).toEqual({ exitCode: 0, stdout: '', stderr: "warden: no sessions: start one with 'warden spawn KEY -- CMD'\n" });
    expect(json(SessionsSchema, await w.run(['ls', '--json']))).toEqual({ sessions: [] });
  });
});

describe.concurrent('status KEY', () => {
  it('shows one session after a reconcile: details for people, the session object on --json', async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'stat', '--json', '--label', 'ticket=T-7', ...LONG]));
    const human = await w.run(['status', 'stat']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^key\s+stat$/m);
    expect(human.stdout).toMatch(/^state\s+running$/m);
    expect(human.stdout).toContain(s.sessionId!);
    expect(human.stdout).toMatch(/^labels\s+ticket=T-7$/m);
    expect(session(await w.run(['status', 'stat', '--json']))).toEqual({ ...s, activity: expect.any(String), activitySince: expect.any(String), updatedAt: expect.any(String) });
    await killWindow(s.windowId);
    expect(session(await w.run(['status', 'stat', '--json'])).state).toBe('orphaned');
  });

  it('is not found (exit 4) for an unknown key', async () => {
    const w = warden(server);
    refused(await w.run(['status', 'nope']), 4, /no session nope: 'warden ls' lists them/);
  });
});

describe.concurrent('end KEY', () => {
  it("kills the session's window, removes the record, keeps history; --json is the last object in state normal", async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'bye', '--json', ...LONG]));
    const ended = session(await w.run(['end', 'bye', '--json']));
    expect(ended).toMatchObject({ key: 'bye', state: 'normal', sessionId: s.sessionId, windowId: s.windowId });
    expect(await ownedWindows(tmux, s.sessionId!)).toEqual([]);
    const state = readState(w.stateFile);
    expect(state.sessions.bye).toBeUndefined();
    expect(state.history.at(-1)).toMatchObject({ key: 'bye', sessionId: s.sessionId, reason: 'ended' });

    session(await w.run(['spawn', 'bye2', '--json', ...LONG]));
    const human = await w.run(['end', 'bye2']);
    expect(human.stdout).toMatch(/^bye2: ended \(session [0-9a-f-]{36}\)\n$/);
  });

  it('never touches a window of the same name that warden did not create', async () => {
    const w = warden(server);
    await w.run(['spawn', 'mine', ...LONG]);
    await tmux.run(['new-window', '-d', '-t', '=warden:', '-n', 'mine', 'sleep', '600']);
    await w.run(['end', 'mine']);
    const names = (await tmux.run(['list-windows', '-t', '=warden:', '-F', '#{window_name}'])).split('\n');
    expect(names.filter((n) => n === 'mine')).toHaveLength(1);
  });

  it('is not found (exit 4) for an unknown key, and writes nothing', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'stay', '--json', ...LONG]));
    const before = w.stateBytes();
    refused(await w.run(['end', 'nope']), 4, /no session nope/);
    expect(w.stateBytes()).toEqual(before);
  });
});

describe.concurrent('gc', () => {
  it('--dry-run lists the orphaned sessions and ends nothing; gc ends every one of them and only them', async () => {
    const w = warden(server);
    const keep = session(await w.run(['spawn', 'keep', '--json', ...LONG]));
    const lost1 = session(await w.run(['spawn', 'lost1', '--json', ...LONG]));
    const lost2 = session(await w.run(['spawn', 'lost2', '--json', ...LONG]));
    await killWindow(lost1.windowId);
    await killWindow(lost2.windowId);

    const dry = json(GcSchema, await w.run(['gc', '--dry-run', '--json']));
    expect(dry.dryRun).toBe(true);
    expect(dry.sessions.map((s) => [s.key, s.state])).toEqual([['lost1', 'orphaned'], ['lost2', 'orphaned']]);
    const human = await w.run(['gc', '--dry-run']);
    expect(human.stdout).toBe(`would end lost1 (session ${lost1.sessionId})\nwould end lost2 (session ${lost2.sessionId})\n`);
    expect(Object.keys(readState(w.stateFile).sessions).sort()).toEqual(['keep', 'lost1', 'lost2']);

    const done = json(GcSchema, await w.run(['gc', '--json']));
    expect(done).toMatchObject({ dryRun: false, failed: [] });
    expect(done.sessions.map((s) => [s.key, s.state, s.sessionId])).toEqual([
      ['lost1', 'normal', lost1.sessionId],
      ['lost2', 'normal', lost2.sessionId],
    ]);
    const state = readState(w.stateFile);
    expect(Object.keys(state.sessions)).toEqual(['keep']);
    expect(state.history.map((h) => [h.key, h.reason])).toEqual([['lost1', 'ended'], ['lost2', 'ended']]);
    expect(await ownedWindows(tmux, keep.sessionId!)).toEqual([keep.windowId]);
    expect((await w.run(['gc'])).stdout).toBe('no orphaned sessions\n');
  });
});

describe.concurrent('history [KEY]', () => {
  it('lists ended sessions oldest first, all or one key; a table for people, {"history":[…]} on --json', async () => {
    const w = warden(server);
    const a = session(await w.run(['spawn', 'ha', '--json', ...LONG]));
    await w.run(['end', 'ha']);
    const b = session(await w.run(['spawn', 'hb', '--json', '--', 'sh', '-c', 'exit 5']));
    for (let i = 0; i < 200; i++) if (session(await w.run(['status', 'hb', '--json'])).exitStatus !== null) break;
    await w.run(['end', 'hb']);

    const all = json(HistorySchema, await w.run(['history', '--json'])).history;
    expect(all.map((h) => [h.key, h.sessionId, h.reason, h.exitStatus])).toEqual([
      ['ha', a.sessionId, 'ended', null],
      ['hb', b.sessionId, 'ended', 5],
    ]);
    expect(json(HistorySchema, await w.run(['history', 'hb', '--json'])).history.map((h) => h.key)).toEqual(['hb']);
    const table = (await w.run(['history'])).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^ENDED\s+KEY\s+REASON\s+EXIT\s+SESSION\s+COMMAND$/);
    expect(table[2]).toMatch(new RegExp(`^\\S+Z\\s+hb\\s+ended\\s+5\\s+${b.sessionId}\\s+sh -c 'exit 5'$`));
    expect(await w.run(['history', 'never'])).toMatchObject({ stdout: '', stderr: 'warden: no ended sessions of never\n' });
  });
});

describe.concurrent('when tmux cannot answer (invariant 3 from the command line)', () => {
  /** A PATH where `tmux` is a wrapper whose list-panes fails with an unexpected error. */
  function pathWithFailingProbe(): string {
    const dir = join(server.dir, 'failing-probe');
    mkdirSync(dir, { recursive: true });
    const wrapper = join(dir, 'tmux');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase " $* " in\n  *" list-panes "*) echo "injected probe failure" >&2; exit 1 ;;\nesac\nexec "${realTmux}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    return `${dir}:${process.env.PATH}`;
  }

  it('ls shows the state last recorded with one warning line (JSON under --json); gc ends nothing (exit 1)', async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'unsure', '--json', ...LONG]));
    await killWindow(s.windowId);
    const env = { PATH: pathWithFailingProbe() };
    const listed = await w.run(['ls', '--json'], { env });
    expect(listed.exitCode).toBe(0);
    expect(listed.stderr).toMatch(/^\{"warning":\{"code":"TMUX_UNKNOWN","message":"tmux did not answer \(.*injected probe failure.*\): showing the state last recorded, not confirmed"\}\}\n$/);
    expect((await w.run(['ls'], { env })).stderr).toMatch(/^warden: tmux did not answer \(.*injected probe failure.*\): showing the state last recorded, not confirmed\n$/);
    expect(SessionsSchema.extend({ confirmed: z.literal(false) }).parse(JSON.parse(listed.stdout)).sessions.map((x) => x.state)).toEqual(['active']);
    const before = w.stateBytes();
    refused(await w.run(['gc'], { env }), 1, /tmux did not answer .*gc ended nothing, try again/);
    expect(w.stateBytes()).toEqual(before);
  });

  it('without tmux on PATH, every verb that needs it says how to fix it (exit 1) and writes nothing', async () => {
    const w = warden(server);
    // The CLI runs by node's absolute path: an empty PATH only hides tmux.
    const env = { PATH: join(server.dir, 'empty-path') };
    for (const args of [['ls'], ['status', 'x'], ['spawn', 'x', ...LONG], ['gc']]) {
      refused(await w.run(args, { env }), 1, /tmux not found \(tmux\): install tmux >= 3\.2/);
    }
    expect(w.stateBytes()).toBeNull();
  });
});

describe.concurrent('a record that cannot be loaded', () => {
  it('ls lists the others and names it on stderr; status names it and points at doctor (exit 1)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'fine', '--json', ...LONG]));
    const snapshot = await persistedIn('active.running', 'strange', spec(['sleep', '600']), randomUUID());
    await writeRecord(w.stateFile, 'strange', { ...snapshot, value: 'limbo' }, null);
    const listed = await w.run(['ls', '--json']);
    expect(listed.exitCode).toBe(0);
    expect(JSON.parse(listed.stderr)).toEqual({ warning: { code: 'SNAPSHOT_INVALID', message: "not listed, cannot be loaded: strange: run 'warden doctor'" } });
    expect((await w.run(['ls'])).stderr).toBe("warden: not listed, cannot be loaded: strange: run 'warden doctor'\n");
    expect(SessionsSchema.parse(JSON.parse(listed.stdout)).sessions.map((s) => s.key)).toEqual(['fine']);
    refused(await w.run(['status', 'strange']), 1, /^warden: strange cannot be loaded \(unknown state "limbo"\): run 'warden doctor'\n$/);
  });
});
