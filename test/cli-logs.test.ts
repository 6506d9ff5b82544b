/**
 * `warden logs`: a session's durable log through the built CLI, against a real tmux server.
 */
import { execa } from 'execa';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultLogDirectory, sessionLogPath } from '../src/logs/paths.js';
import { cleanEnv, refused, session, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('cli-logs');

describe('logs KEY: options', () => {
  it('refuses a --since that is not a time, naming the forms it takes (exit 2)', async () => {
    const w = warden(server);
    refused(await w.run(['logs', 'nokey', '--since', 'yesterday']), 2, /--since "yesterday" is not a time: use e\.g\. --since 10m/);
  });

  it('an unknown key is exit 4, an unknown --session too', async () => {
    const w = warden(server);
    refused(await w.run(['logs', 'nokey']), 4, /no session nokey/);
    session(await w.run(['spawn', 'known', '--json', '--', 'sleep', '600']));
    refused(await w.run(['logs', 'known', '--session', 'not-an-id']), 4, /known had no session not-an-id: 'warden history known' lists/);
  });

  it('reads the log at <state dir>/logs/<key>/<sessionId>.log, rendered, -n lines, --raw bytes', async () => {
    const w = warden(server);
    const info = session(await w.run(['spawn', 'rendered', '--json', '--', 'sleep', '600']));
    const file = sessionLogPath(defaultLogDirectory(w.stateFile), 'rendered', info.sessionId!);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'first\r\n\x1b[31mred\x1b[0m\r\nProgress 10%\rProgress 100%\r\n');
    expect((await w.run(['logs', 'rendered'])).stdout).toBe('first\nred\nProgress 100%\n');
    expect((await w.run(['logs', 'rendered', '-n', '1'])).stdout).toBe('Progress 100%\n');
    expect((await w.run(['logs', 'rendered', '--raw', '-n', '2'])).stdout).toBe('\x1b[31mred\x1b[0m\r\nProgress 10%\rProgress 100%\r\n');
    const asJson = JSON.parse((await w.run(['logs', 'rendered', '--json', '-n', '1'])).stdout);
    expect(asJson).toEqual({ key: 'rendered', sessionId: info.sessionId, logFile: file, text: 'Progress 100%\n' });
  });

  it('-f prints new lines as they are finished and ends on Ctrl-C with exit 0', async () => {
    const w = warden(server);
    const info = session(await w.run(['spawn', 'followed', '--json', '--', 'sleep', '600']));
    const file = sessionLogPath(defaultLogDirectory(w.stateFile), 'followed', info.sessionId!);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'old line\r\n');
    const [bin, ...args] = w.argv(['logs', 'followed', '-f']);
    const child = execa(bin!, args, { reject: false, env: cleanEnv(), extendEnv: false, stdin: 'ignore' });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor(() => out.includes('old line\n'), 'the existing line');
    appendFileSync(file, 'new line\r\n');
    await waitFor(() => out.includes('new line\n'), 'the new line');
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(out).toBe('old line\nnew line\n');
  });
});
