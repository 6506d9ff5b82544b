/**
 * Durable logs against a real tmux server: what a program printed survives its window, the
 * server, a resume, a fresh start and `end`; a TUI renders to its final screen; the pipe rotates
 * at the cap; follow sees new lines across a rotation.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema } from '../src/model/schema.js';
import { cleanEnv, json, session, warden, type Warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('logs-tmux');
/** A server of its own, for the test that kills it. */
const doomed = useTmuxServer('logs-tmux-killed');

async function status(w: Warden, key: string) {
  return json(SessionInfoSchema, await w.run(['status', key, '--json']));
}

async function exited(w: Warden, key: string) {
  return waitFor(async () => {
    const info = await status(w, key);
    return info.exitStatus !== null ? info : null;
  }, `${key} to exit`);
}

async function logs(w: Warden, key: string, args: string[] = []): Promise<string> {
  const result = await w.run(['logs', key, ...args]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

async function logsUntil(w: Warden, key: string, wanted: string, args: string[] = []): Promise<string> {
  return waitFor(async () => {
    const text = await logs(w, key, args);
    return text.includes(wanted) ? text : null;
  }, `${key}'s log to show ${JSON.stringify(wanted)}`);
}

describe.concurrent('what a program printed survives', () => {
  it('its exit: logs of an exited pane shows the output, not blank rows and "Pane is dead"', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'exits', '--json', '--', 'sh', '-c', 'echo important output line; exit 7']));
    expect((await exited(w, 'exits')).exitStatus).toBe(7);
    const text = await logs(w, 'exits', ['-n', '100']);
    expect(text).toBe('important output line\n');
  });

  it('a resume after the exit (spawn --mode resume) whose agent clears the screen: the earlier output is still there', async () => {
    const w = warden(server);
    // An agent's TUI clears the screen and scrollback when it starts, as `clear` does.
    const resume = String.raw`sh -c 'printf "\033[H\033[2J\033[3J"; echo resumed output; sleep 600'`;
    session(
      await w.run([
        'spawn', 'resumed', '--json', '--resume-command', resume,
        '--', 'sh', '-c', 'echo important output line; exit 7',
      ]),
    );
    await exited(w, 'resumed');
    // The log has the first program's line before the resume (its pipe may still be writing it
    // when the pane is reported dead): what is tested is that the resume's clear keeps it.
    await logsUntil(w, 'resumed', 'important output line', ['-n', '100']);
    session(await w.run(['spawn', 'resumed', '--mode', 'resume', '--json']));
    const text = await logsUntil(w, 'resumed', 'resumed output', ['-n', '100']);
    expect(text).toContain('important output line\n');
    expect(text.indexOf('important output line')).toBeLessThan(text.indexOf('resumed output'));
  });

  it('its window killed behind warden (orphaned), and a resume into a new window', async () => {
    const w = warden(server);
    const info = session(
      await w.run(['spawn', 'orphan', '--json', '--resume-command', "sh -c 'echo back again; sleep 600'", '--', 'sh', '-c', 'echo before the kill; sleep 600']),
    );
    await logsUntil(w, 'orphan', 'before the kill');
    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    expect((await status(w, 'orphan')).state).toBe('orphaned');
    expect(await logs(w, 'orphan')).toContain('before the kill');
    session(await w.run(['spawn', 'orphan', '--mode', 'resume', '--json']));
    const text = await logsUntil(w, 'orphan', 'back again');
    expect(text).toContain('before the kill');
  });

  it('end: the ended session’s log is read from its history entry, which keeps logFile', async () => {
    const w = warden(server);
    const info = session(await w.run(['spawn', 'ended', '--json', '--', 'sh', '-c', 'echo last words; sleep 600']));
    await logsUntil(w, 'ended', 'last words');
    session(await w.run(['end', 'ended', '--json']));
    expect(await logs(w, 'ended')).toContain('last words');
    const { history } = json(z.object({ history: HistoryEntrySchema.array() }), await w.run(['history', 'ended', '--json']));
    expect(history.at(-1)?.logFile).toBe(info.logFile);
    expect(readFileSync(info.logFile!, 'utf8')).toContain('last words');
  });

  it('a fresh start: a new session id and log; the earlier one stays readable with --session', async () => {
    const w = warden(server);
    const first = session(await w.run(['spawn', 'fresh', '--json', '--', 'sh', '-c', 'echo first life; sleep 600']));
    await logsUntil(w, 'fresh', 'first life');
    const second = session(await w.run(['spawn', 'fresh', '--mode', 'fresh', '--json', '--', 'sh', '-c', 'echo second life; sleep 600']));
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.logFile).not.toBe(first.logFile);
    await logsUntil(w, 'fresh', 'second life');
    expect(await logs(w, 'fresh')).not.toContain('first life');
    expect(await logs(w, 'fresh', ['--session', first.sessionId!])).toContain('first life');
  });
});

describe('the log outlives the tmux server', () => {
  it('kill-server: logs and status still show what the program printed', async () => {
    const w = warden(doomed);
    session(await w.run(['spawn', 'gone', '--json', '--', 'sh', '-c', 'echo before the server died; sleep 600']));
    await logsUntil(w, 'gone', 'before the server died');
    await doomed.tmux.killServer();
    expect((await status(w, 'gone')).state).toBe('orphaned');
    expect(await logs(w, 'gone')).toContain('before the server died');
  });
});

describe.concurrent('what the log holds', () => {
  it('a TUI program’s log renders to its final screen', async () => {
    const w = warden(server);
    const tui = String.raw`printf '\033[?1049h\033[2J\033[HFrame one\033[3;1Hstatus: working'; sleep 0.2; printf '\033[HFrame two\033[K\033[3;1Hstatus: done\033[K'; sleep 600`;
    session(await w.run(['spawn', 'tui', '--json', '--', 'sh', '-c', tui]));
    const text = await logsUntil(w, 'tui', 'status: done');
    expect(text).toBe('Frame two\n\nstatus: done\n');
    expect(await logs(w, 'tui', ['--raw'])).toContain('Frame one');
  });

  it('a missing program’s error text', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'missing', '--json', '--', 'no-such-program-for-warden', '--flag']));
    await exited(w, 'missing');
    expect(await logs(w, 'missing')).toMatch(/no-such-program-for-warden.*not found/);
  });

  it('files 0600 in directories 0700', async () => {
    const w = warden(server);
    const info = session(await w.run(['spawn', 'private', '--json', '--', 'sh', '-c', 'echo secret; sleep 600']));
    await logsUntil(w, 'private', 'secret');
    expect(statSync(info.logFile!).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(info.logFile!)).mode & 0o777).toBe(0o700);
    expect(statSync(dirname(dirname(info.logFile!))).mode & 0o777).toBe(0o700);
    expect(info.logFile).toBe(join(w.stateFile.replace(/\.json$/, '.logs'), 'private', `${info.sessionId}.log`));
  });

  it('status of an exited session shows its exit status and the last lines of its output', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'told', '--json', '--', 'sh', '-c', 'echo step one; echo it broke; exit 3']));
    await exited(w, 'told');
    const { stdout } = await w.run(['status', 'told']);
    expect(stdout).toMatch(/exited \(exit status 3\)/);
    expect(stdout).toMatch(/step one\n.*it broke\n/);
  });
});

describe('retention', () => {
  it('gc removes ended sessions’ logs past retainDays, never a live session’s however old', async () => {
    const w = warden(server);
    const live = session(await w.run(['spawn', 'kept', '--json', '--', 'sh', '-c', 'echo still here; sleep 600']));
    await logsUntil(w, 'kept', 'still here');
    const endedLog = join(w.stateFile.replace(/\.json$/, '.logs'), 'gone-key', 'f0e1d2c3-0000-4000-8000-000000000000.log');
    mkdirSync(dirname(endedLog), { recursive: true });
    writeFileSync(endedLog, 'long ago\n');
    const old = new Date(Date.now() - 40 * 86_400_000);
    for (const file of [endedLog, live.logFile!]) utimesSync(file, old, old);
    const gc = JSON.parse((await w.run(['gc', '--json'])).stdout) as { logsRemoved: string[] };
    expect(gc.logsRemoved).toEqual(['f0e1d2c3-0000-4000-8000-000000000000']);
    expect(existsSync(endedLog)).toBe(false);
    expect(readFileSync(live.logFile!, 'utf8')).toContain('still here');
  });
});

describe('rotation and follow with a small cap', () => {
  it('rotates at the cap and follow goes on across the rotation', async () => {
    const w = warden(server);
    const env = { WARDEN_LOGS: 'maxFileSize=8KiB' };
    const info = session(await w.run(['spawn', 'rotating', '--json', '--', 'sh', '-c', 'while read -r n; do seq -f "line $n %g" 1 400; done'], { env }));
    const [bin, ...args] = w.argv(['logs', 'rotating', '-f']);
    const follower = execa(bin!, args, { reject: false, env: cleanEnv(), extendEnv: false, stdin: 'ignore' });
    let out = '';
    follower.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => readdirSync(dirname(info.logFile!)).length > 0, 'the log');
    expect((await w.run(['send', 'rotating', 'a'])).exitCode).toBe(0);
    await waitFor(() => out.includes('line a 400\n'), 'the first batch followed');
    expect((await w.run(['send', 'rotating', 'b'])).exitCode).toBe(0);
    await waitFor(() => out.includes('line b 400\n'), 'the second batch followed across the rotation');
    follower.kill('SIGINT');
    expect((await follower).exitCode).toBe(0);
    expect(statSync(`${info.logFile}.1`).size).toBe(8192);
    expect(statSync(info.logFile!).size).toBeLessThanOrEqual(8192);
    for (const n of [1, 200, 400]) expect(out).toContain(`line b ${n}\n`);
  });
});
