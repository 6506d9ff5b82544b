/**
 * `warden logs`: a session's durable log through the built CLI, against a real tmux server.
 * (What the log survives, and rotation, are in logs-tmux.test.ts.)
 */
import { execa } from 'execa';
import { appendFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cleanEnv, refused, session, warden, type Warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('cli-logs');

async function logsUntil(w: Warden, key: string, wanted: string, args: string[] = []): Promise<string> {
  return waitFor(async () => {
    const { stdout } = await w.run(['logs', key, ...args]);
    return stdout.includes(wanted) ? stdout : null;
  }, `the log of ${key} to show ${JSON.stringify(wanted)}`);
}

/** A quiet session whose log holds exactly `bytes`, as if its program had written them. */
async function loggedSession(w: Warden, key: string, bytes: string) {
  const info = session(await w.run(['spawn', key, '--json', '--', 'sleep', '600']));
  writeFileSync(info.logFile!, bytes);
  return info;
}

describe.concurrent('logs KEY [-n N] [--raw] [--json]', () => {
  it('prints the last screen’s worth (50 lines); -n the last N; --json is {key, sessionId, logFile, text}', async () => {
    const w = warden(server);
    const info = session(await w.run(['spawn', 'counter', '--json', '--', 'sh', '-c', 'seq 1 300; sleep 600']));
    const screen = await logsUntil(w, 'counter', '300\n');
    expect(screen).toBe(Array.from({ length: 50 }, (_, i) => `${i + 251}\n`).join(''));
    expect((await w.run(['logs', 'counter', '-n', '400'])).stdout).toBe(Array.from({ length: 300 }, (_, i) => `${i + 1}\n`).join(''));
    expect((await w.run(['logs', 'counter', '--lines', '2'])).stdout).toBe('299\n300\n');
    const json = z
      .object({ key: z.string(), sessionId: z.string(), logFile: z.string().nullable(), text: z.string() })
      .strict()
      .parse(JSON.parse((await w.run(['logs', 'counter', '--json'])).stdout));
    expect(json).toEqual({ key: 'counter', sessionId: info.sessionId, logFile: info.logFile, text: screen });
  });

  it('renders what the program wrote; --raw gives the bytes', async () => {
    const w = warden(server);
    await loggedSession(w, 'rendered', 'first\r\n\x1b[31mred\x1b[0m\r\nProgress 10%\rProgress 100%\r\n');
    expect((await w.run(['logs', 'rendered'])).stdout).toBe('first\nred\nProgress 100%\n');
    expect((await w.run(['logs', 'rendered', '-n', '1'])).stdout).toBe('Progress 100%\n');
    expect((await w.run(['logs', 'rendered', '--raw', '-n', '2'])).stdout).toBe('\x1b[31mred\x1b[0m\r\nProgress 10%\rProgress 100%\r\n');
  });

  it('a session started without a log still shows its pane, as logs always did', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'unlogged', '--json', '--', 'sh', '-c', 'echo on the pane; sleep 600'], { env: { WARDEN_LOGS: 'off' } }));
    expect(await logsUntil(w, 'unlogged', 'on the pane')).toBe('on the pane\n');
  });

  it('refuses a --since that is not a time, naming the forms it takes (exit 2)', async () => {
    refused(await warden(server).run(['logs', 'nokey', '--since', 'yesterday']), 2, /--since "yesterday" is not a time: use e\.g\. --since 10m/);
  });

  it('refuses a WARDEN_LOGS it cannot read, naming the setting (exit 2)', async () => {
    const result = await warden(server).run(['ls'], { env: { WARDEN_LOGS: 'maxFileSize=lots' } });
    refused(result, 2, /invalid WARDEN_LOGS maxFileSize: "lots" is not a size: write e\.g\. 10MiB/);
  });

  it('an unknown key is exit 4, an unknown --session too', async () => {
    const w = warden(server);
    expect(await w.run(['logs', 'nobody'])).toEqual({ exitCode: 4, stdout: '', stderr: "warden: no session nobody: 'warden ls' lists them\n" });
    session(await w.run(['spawn', 'known', '--json', '--', 'sleep', '600']));
    refused(await w.run(['logs', 'known', '--session', 'not-an-id']), 4, /known had no session not-an-id: 'warden history known' lists/);
  });
});

describe('logs -f', () => {
  it('prints new lines as they are finished and ends on Ctrl-C with exit 0', async () => {
    const w = warden(server);
    const info = await loggedSession(w, 'followed', 'old line\r\n');
    const [bin, ...args] = w.argv(['logs', 'followed', '-f']);
    const child = execa(bin!, args, { reject: false, env: cleanEnv(), extendEnv: false, stdin: 'ignore' });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => out.includes('old line\n'), 'the existing line');
    appendFileSync(info.logFile!, 'new line\r\n');
    await waitFor(() => out.includes('new line\n'), 'the new line');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(out).toBe('old line\nnew line\n');
  });
});
