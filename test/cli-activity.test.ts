/**
 * The activity verbs of the built CLI: signal, wait, send --wait-ready, spawn --profile, and
 * activity shown in ls, status --explain and the JSON session object.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { json, refused, session, warden } from './support/cli.js';
import { SessionInfoSchema } from '../src/model/schema.js';
import { useTmuxServer } from './support/tmux-server.js';
import * as z from 'zod';

const server = useTmuxServer('cli-activity');
const FAKE = fileURLToPath(new URL('./fixtures/fake-agent.mjs', import.meta.url));
const fake = (script: string, workMs = 300) => ['--', process.execPath, FAKE, script, String(workMs)];

describe.concurrent('warden signal KEY busy|idle|waiting', () => {
  it('records the activity with source signal; ls shows it with its age; status --explain says who decided', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'agent', '--json', '--', 'sleep', '600']));
    const signalled = session(await w.run(['signal', 'agent', 'waiting', '--json']));
    expect(signalled).toMatchObject({ activity: 'waiting', activitySource: 'signal', activitySince: expect.any(String) });
    const plain = await w.run(['signal', 'agent', 'waiting']);
    expect(plain).toMatchObject({ exitCode: 0, stdout: '', stderr: '' });
    const ls = await w.run(['ls']);
    expect(ls.stdout).toMatch(/^agent\s+running\s+waiting \d+s\s/m);
    const explained = await w.run(['status', 'agent', '--explain']);
    expect(explained.stdout).toMatch(/^activity\s+waiting \d+s \(signal\)$/m);
    expect(explained.stdout).toMatch(/^explain\s+waiting since \S+ \(\d+s ago\): the agent's own hook said so \(warden signal waiting\)/m);
    const asJson = JSON.parse((await w.run(['status', 'agent', '--explain', '--json'])).stdout);
    expect(asJson.explain).toMatchObject({ activity: 'waiting', source: 'signal', profile: null });
  });

  it('refuses an unknown activity (exit 2), an unknown key (exit 4) and a session that is not running (exit 3)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'quit', '--json', '--', 'sh', '-c', 'exit 0']));
    refused(await w.run(['signal', 'quit', 'sleepy']), 2, /unknown activity "sleepy": use busy, idle or waiting/);
    refused(await w.run(['signal', 'nobody', 'idle']), 4, /no session nobody/);
    let result = await w.run(['signal', 'quit', 'idle']);
    for (let i = 0; i < 100 && result.exitCode === 0; i++) result = await w.run(['signal', 'quit', 'idle']);
    refused(result, 3, /quit is exited, not running: a signal is for a running session/);
  });
});

describe.concurrent('warden wait KEY --until … [--timeout S]', () => {
  it('returns 0 as soon as the state is reached, printing where the session stands', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'boxed', '--profile', 'claude', '--json', ...fake('prompt')]));
    const result = await w.run(['wait', 'boxed', '--until', 'waiting,idle', '--timeout', '30']);
    expect(result).toMatchObject({ exitCode: 0, stderr: '' });
    expect(result.stdout).toMatch(/^boxed: running, waiting \d+s\n$/);
  });

  it('times out with exit 1, saying the state it was in', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'busybody', '--profile', 'claude', '--json', ...fake('stream')]));
    const result = await w.run(['wait', 'busybody', '--until', 'idle', '--timeout', '0.5', '--json']);
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ reached: false, session: { key: 'busybody', activity: 'busy' } });
    expect(result.stderr).toMatch(/busybody is busy after 0.5s, not idle/);
  });

  it('refuses an unknown state or time with exit 2', async () => {
    const w = warden(server);
    refused(await w.run(['wait', 'x', '--until', 'sleeping']), 2, /--until "sleeping" is not a state to wait for: use busy, idle, waiting, running, exited, orphaned, ended/);
    refused(await w.run(['wait', 'x', '--until', 'idle', '--timeout', 'soon']), 2, /--timeout "soon" is not a time in seconds/);
  });
});

describe.concurrent('spawn --profile and send --wait-ready', () => {
  it('refuses an unknown profile with exit 2, naming the known ones, and writes nothing', async () => {
    const w = warden(server);
    refused(await w.run(['spawn', 'who', '--profile', 'clod', '--', 'sleep', '600']), 2, /unknown profile "clod": use one of aider, claude, codex, gemini, opencode, shell/);
    expect(w.stateBytes()).toBeNull();
  });

  it('send --wait-ready types only once the agent is ready, and the TUI takes the text', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'later', '--profile', 'codex', '--json', ...fake('codex', 2000)]));
    const sent = await w.run(['send', 'later', '--wait-ready', '30', '--json', 'hello there']);
    expect(json(z.object({ key: z.string(), submitted: z.boolean().nullable() }), sent)).toEqual({ key: 'later', submitted: true });
    const screen = await w.run(['logs', 'later']);
    expect(screen.stdout).toMatch(/^> hello there$/m);
  });

  it('every session object carries activity, activitySince and activitySource', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'listed', '--json', '--', 'sleep', '600']));
    const { sessions } = json(z.object({ sessions: z.array(SessionInfoSchema.strict()) }), await w.run(['ls', '--json']));
    const listed = sessions.find((s) => s.key === 'listed')!;
    expect(listed.activity === 'busy' || listed.activity === 'idle').toBe(true);
    expect(listed.activitySource).toBe('silence');
  });
});
