/**
 * Bad input: hostile keys, labels, env names, paths, commands and text to send, each refused by the
 * CLI with exit 2 and one clear line, with nothing stored changed, nothing in tmux touched and
 * nothing typed. User text reaches the program as argv, never through a shell of ours.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/engine.js';
import { SEND_TEXT_MAX_BYTES } from '../src/model/schema.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';
import { stateBytes, warden, type CliResult, type CliTarget } from './support/warden-cli.js';

const server = useTmuxServer('input');
let t: CliTarget;

async function windowsNow(): Promise<string> {
  const probe = await server.tmux.probeAll();
  return probe.kind === 'ok' ? probe.panes.map((p) => `${p.windowId} ${p.windowName} ${p.tag} ${p.pid}`).sort().join('\n') : probe.kind;
}

async function victimScreen(): Promise<string> {
  const probe = await server.tmux.probeAll();
  const pane = probe.kind === 'ok' ? probe.panes.find((p) => p.windowName === 'victim') : undefined;
  return pane ? server.tmux.capturePane(pane.paneId) : 'no victim pane';
}

beforeAll(async () => {
  t = { state: server.stateFile(), socket: server.socket };
  const r = await warden(t, ['spawn', 'victim', '--label', 'team=core', '--', ...LONG_RUNNING]);
  expect(r, r.stderr).toMatchObject({ exitCode: 0 });
});

const aFile = join(process.cwd(), 'package.json');
const long = (n: number) => 'a'.repeat(n);

/** [what, argv after the global options, what the one line must say] */
const table: [string, string[], RegExp][] = [
  // keys: tmux target syntax, shell syntax, paths, length, non-ASCII, empty
  ['key with a space', ['spawn', 'bad key', '--', 'true'], /invalid key "bad key": use 1-64 characters/],
  ['key with a colon (tmux target)', ['spawn', 'a:b', '--', 'true'], /invalid key "a:b"/],
  ['key with a dot (tmux target)', ['end', 'a.b'], /invalid key "a.b"/],
  ['key starting with = (exact-match prefix)', ['spawn', '=victim', '--', 'true'], /invalid key "=victim"/],
  ['key starting with _', ['spawn', '_x', '--', 'true'], /invalid key "_x"/],
  ['key of 65 characters', ['spawn', long(65), '--', 'true'], /invalid key "a{65}"/],
  ['key that is a path', ['spawn', '../../etc/passwd', '--', 'true'], /invalid key "\.\.\/\.\.\/etc\/passwd"/],
  ['key with shell syntax', ['end', '$(touch PWNED)'], /invalid key "\$\(touch PWNED\)"/],
  ['key with a newline', ['spawn', 'a\nb', '--', 'true'], /invalid key "a\\nb"/],
  ['non-ASCII key', ['spawn', 'ключ', '--', 'true'], /invalid key "ключ"/],
  ['empty key', ['end', ''], /invalid key ""/],
  // labels
  ['label without =', ['spawn', 'k', '--label', 'novalue', '--', 'true'], /--label "novalue" is not K=V/],
  ['label with an empty name', ['spawn', 'k', '--label', '=v', '--', 'true'], /--label "=v" is not K=V/],
  ['label name with a space', ['spawn', 'k', '--label', 'a b=v', '--', 'true'], /invalid --label "a b": a label name is/],
  ['label value with a newline', ['spawn', 'k', '--label', 'k=a\nb', '--', 'true'], /invalid --label "k": control characters are not allowed/],
  ['label value over 4096 characters', ['spawn', 'k', '--label', `k=${long(5000)}`, '--', 'true'], /invalid --label "k": 5000 characters, over the 4096 a value may have: keep long text in a file/],
  // environment
  ['env name starting with a digit', ['spawn', 'k', '--env', '1A=x', '--', 'true'], /invalid --env "1A": an environment variable name is/],
  ['env name with a space', ['spawn', 'k', '--env', 'A B=x', '--', 'true'], /invalid --env "A B": an environment variable name is/],
  ['env without =', ['spawn', 'k', '--env', 'PATH', '--', 'true'], /--env "PATH" is not K=V/],
  ['env value with an escape sequence', ['spawn', 'k', '--env', 'A=\u001b[31m', '--', 'true'], /invalid --env "A": control characters are not allowed/],
  // paths
  ['cwd that does not exist', ['spawn', 'k', '--cwd', '/nonexistent/dir', '--', 'true'], /--cwd \/nonexistent\/dir is not a directory/],
  ['cwd that is a file', ['spawn', 'k', '--cwd', aFile, '--', 'true'], /is not a directory: create it or pass an existing one/],
  // commands
  ['no command', ['spawn', 'k', '--'], /a command is required after --/],
  ['command argument with a newline', ['spawn', 'k', '--', 'echo', 'a\nb'], /command\.1: control characters are not allowed/],
  ['command argument with a bell', ['spawn', 'k', '--', 'echo', 'a\u0007'], /command\.1: control characters are not allowed/],
  ['command argument over 4096 characters', ['spawn', 'k', '--', 'echo', long(5000)], /command\.1: 5000 characters, over the 4096 a value may have: keep long text in a file/],
  ['resume command with a newline', ['spawn', 'k', '--resume-command', 'a\nb', '--', 'true'], /invalid --resume-command "a\\nb": control characters/],
  // groups and modes
  ['group with a colon', ['spawn', 'k', '--group', 'a:b', '--', 'true'], /invalid --group "a:b": a group is 1-64 characters/],
  ['empty group', ['spawn', 'k', '--group', '', '--', 'true'], /invalid --group "": a group is 1-64 characters/],
  ['unknown mode', ['spawn', 'k', '--mode', 'bogus', '--', 'true'], /^warden: option '--mode <mode>' argument 'bogus' is invalid.* \(see 'warden spawn --help'\)$/],
  ['unknown option', ['spawn', '-rf', '--', 'true'], /^warden: unknown option '-rf' \(see 'warden spawn --help'\)$/],
  ['status of an invalid key', ['status', 'a:b'], /invalid key "a:b"/],
  // text to send (the pane would show anything typed: it is compared too)
  [`send of more than ${SEND_TEXT_MAX_BYTES} bytes`, ['send', 'victim', long(SEND_TEXT_MAX_BYTES + 1)], /the text is 15001 bytes, more than the 15000 one send can type/],
  ['send of multi-byte text over the byte limit', ['send', 'victim', 'é'.repeat(SEND_TEXT_MAX_BYTES / 2 + 1)], /the text is 15002 bytes/],
  ['send of an escape sequence', ['send', 'victim', 'a\u001b[2Jb'], /control character U\+001B/],
  ['send of a bell', ['send', 'victim', 'ding\u0007'], /control character U\+0007/],
  ['send of a DEL', ['send', 'victim', 'a\u007fb'], /control character U\+007F/],
  ['send of a lone carriage return', ['send', 'victim', 'a\rb'], /control character U\+000D/],
];

describe('bad input: exit 2, one clear line, nothing stored changed, nothing typed', () => {
  it(`refuses each of ${table.length} hostile inputs`, async () => {
    const bytes = [stateBytes(t.state), stateBytes(`${t.state}.bak`)];
    const windows = await windowsNow();
    const screen = await victimScreen();
    const results: [string, CliResult][] = [];
    // Six at a time: each is its own process, as a user's mistakes would be.
    for (let i = 0; i < table.length; i += 6) {
      const batch = table.slice(i, i + 6);
      results.push(...(await Promise.all(batch.map(async ([what, args]) => [what, await warden(t, args)] as [string, CliResult]))));
    }
    for (const [index, [what, r]] of results.entries()) {
      const expected = table[index]![2];
      expect(r.exitCode, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n'), what).toHaveLength(1);
      expect(r.stderr, what).toMatch(/^warden: /);
      expect(r.stderr, what).toMatch(expected);
      expect(r.stdout, what).toBe('');
    }
    expect([stateBytes(t.state), stateBytes(`${t.state}.bak`)]).toEqual(bytes);
    expect(await windowsNow()).toBe(windows);
    expect(await victimScreen()).toBe(screen);
    expect(existsSync(join(process.cwd(), 'PWNED'))).toBe(false);
  });
});

describe('the engine never passes user text to a shell itself', () => {
  it('shell syntax in command arguments, env and labels reaches the program literally', async () => {
    const out = join(server.dir, 'argv.txt');
    const marker = join(server.dir, 'PWNED');
    const hostile = `$(touch ${marker}); \`touch ${marker}\` | touch ${marker} && echo '"`;
    const r = await warden(t, [
      'spawn', 'literal', '--env', `HOSTILE=${hostile}`, '--label', `note=${hostile}`,
      '--', 'sh', '-c', 'printf "%s\\n%s\\n" "$1" "$HOSTILE" > "$2"; exec sleep 600', 'sh', hostile, out,
    ]);
    expect(r, r.stderr).toMatchObject({ exitCode: 0 });
    const text = await waitFor(() => (existsSync(out) ? readFileSync(out, 'utf8') : null), 'the program to write its argv');
    expect(text).toBe(`${hostile}\n${hostile}\n`);
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse((await warden(t, ['--json', 'status', 'literal'])).stdout).labels).toEqual({ note: hostile });
  });
});

describe('send: text the CLI cannot even carry, and text up to the limit', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ stateFile: t.state, socket: server.socket });
  });

  it('refuses a NUL byte (argv cannot carry one; the library can): INVALID_INPUT, nothing typed or stored', async () => {
    const bytes = stateBytes(t.state);
    const before = await engine.capture('victim');
    const err = await engine.send('victim', 'a\u0000b').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_INPUT', exitCode: 2, message: expect.stringMatching(/control character U\+0000/) });
    expect(await engine.capture('victim')).toBe(before);
    expect(stateBytes(t.state)).toBe(bytes);
  });

  it(`types text up to the limit (${SEND_TEXT_MAX_BYTES} bytes, tabs and newlines included) into the pane`, async () => {
    const ready = join(server.dir, 'raw-ready');
    const echo = await engine.spawn('echo-back', {
      command: ['sh', '-c', 'stty raw -echo; : > "$1"; exec cat > "$0"', join(server.dir, 'typed.txt'), ready],
    });
    expect(echo.state).toBe('active');
    await waitFor(() => existsSync(ready), 'the pane to be in raw mode');
    const text = `${'x'.repeat(SEND_TEXT_MAX_BYTES - 6)}\tab\ncd`;
    expect(Buffer.byteLength(text)).toBe(SEND_TEXT_MAX_BYTES);
    await engine.send('echo-back', text);
    const typed = await waitFor(() => {
      const got = existsSync(join(server.dir, 'typed.txt')) ? readFileSync(join(server.dir, 'typed.txt'), 'utf8') : '';
      return got.endsWith('cd\r') ? got : null; // raw tty: no 4 KiB line limit; Enter and newlines arrive as CR
    }, 'the pane to receive the text');
    expect(typed.replaceAll('\r', '\n')).toBe(`${text}\n`);
    writeFileSync(join(server.dir, 'typed.txt'), '');
  });
});
