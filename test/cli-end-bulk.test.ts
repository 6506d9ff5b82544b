/**
 * `end KEY…`, `end --label K=V`, `end --all`: several sessions at once through the built CLI, on
 * a real tmux server. On a terminal it asks first unless `--yes`; the terminal here is a tmux pane.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SessionInfoSchema } from '../src/model/schema.js';
import { cleanEnv, json, refused, shellLine, warden, type Warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('end-bulk');
/** Where the CLI under test runs on a terminal: a server apart from the one it manages. */
const terminal = useTmuxServer('end-bulk-tty');

const EndedSchema = z.object({
  sessions: z.array(SessionInfoSchema),
  failed: z.array(z.object({ key: z.string(), error: z.object({ code: z.string(), message: z.string() }).passthrough() })),
}).strict();

async function keys(w: Warden): Promise<string[]> {
  return JSON.parse((await w.run(['ls', '--json'])).stdout).sessions.map((s: { key: string }) => s.key);
}

async function spawnAll(w: Warden, specs: [string, string][]): Promise<void> {
  for (const [key, team] of specs) expect((await w.run(['spawn', key, '--label', `team=${team}`, '--', 'sleep', '600'])).exitCode).toBe(0);
}

describe('end KEY… / end --label K=V / end --all', () => {
  it('ends the keys named, those carrying a label, or all of them; a script is not asked', async () => {
    const w = warden(server);
    await spawnAll(w, [['a', 'x'], ['b', 'x'], ['c', 'y'], ['d', 'y'], ['e', 'z']]);
    const named = json(EndedSchema, await w.run(['end', 'a', 'c', '--json']));
    expect(named.sessions.map((s) => [s.key, s.state])).toEqual([['a', 'normal'], ['c', 'normal']]);
    expect(await keys(w)).toEqual(['b', 'd', 'e']);
    const labelled = json(EndedSchema, await w.run(['end', '--label', 'team=y', '--json']));
    expect(labelled.sessions.map((s) => s.key)).toEqual(['d']);
    const human = await w.run(['end', '--all']);
    expect(human).toMatchObject({ exitCode: 0, stderr: '' });
    expect(human.stdout).toMatch(/^b: ended \(session [0-9a-f-]+\)\ne: ended \(session [0-9a-f-]+\)\n$/);
    expect(await keys(w)).toEqual([]);
  });

  it('a missing key among several is reported with exit 4; the others still end', async () => {
    const w = warden(server);
    await spawnAll(w, [['m1', 'x']]);
    const result = await w.run(['end', 'm1', 'ghost', '--json']);
    expect(result.exitCode).toBe(4);
    expect(EndedSchema.parse(JSON.parse(result.stdout)).sessions.map((s) => s.key)).toEqual(['m1']);
    expect(result.stderr).toMatch(/could not end ghost \(no session ghost/);
  });

  it('refuses no selection, or two ways of selecting, with exit 2', async () => {
    const w = warden(server);
    refused(await w.run(['end']), 2, /end takes KEY…, --label K=V or --all/);
    refused(await w.run(['end', 'a', '--all']), 2, /end takes KEY…, --label K=V or --all/);
  });

  it('asks on a terminal: no ends nothing, --yes does not ask', async () => {
    const w = warden(server);
    await spawnAll(w, [['t1', 'x'], ['t2', 'x']]);
    const env = cleanEnv();
    const envArgs = Object.entries({ PATH: env.PATH ?? '', HOME: env.HOME ?? '' }).map(([k, v]) => `${k}=${v}`);
    const line = shellLine(['env', '-i', ...envArgs, ...w.argv(['end', '--all'])]);
    const pane = (await terminal.tmux.run(['new-session', '-d', '-P', '-F', '#{pane_id}', '-x', '200', '-y', '20', 'sh'])).trim();
    await terminal.tmux.run(['send-keys', '-t', pane, '-l', `${line}; echo "exit=$?"`]);
    await terminal.tmux.run(['send-keys', '-t', pane, 'Enter']);
    const screen = () => terminal.tmux.run(['capture-pane', '-p', '-t', pane]);
    await waitFor(async () => (await screen()).includes('end 2 sessions (t1, t2)? [y/N]'), 'the question');
    await terminal.tmux.run(['send-keys', '-t', pane, 'n', 'Enter']);
    await waitFor(async () => (await screen()).includes('exit=0'), 'the answer to be taken');
    expect(await screen()).toContain('warden: nothing ended');
    expect(await keys(w)).toEqual(['t1', 't2']);
    const yes = shellLine(['env', '-i', ...envArgs, ...w.argv(['end', '--all', '--yes'])]);
    await terminal.tmux.run(['send-keys', '-t', pane, '-l', `${yes}; echo "done=$?"`]);
    await terminal.tmux.run(['send-keys', '-t', pane, 'Enter']);
    await waitFor(async () => (await screen()).includes('done=0'), 'end --all --yes');
    expect(await keys(w)).toEqual([]);
  });
});
