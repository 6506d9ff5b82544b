/**
 * The `warden` CLI, driven as a subprocess (the built dist/src/cli.js) against a real tmux server
 * on a private socket and a state file of its own: one describe per verb of the DESIGN CLI table,
 * asserting its human output, its --json shape (parsed by the schema), its exit code, and what
 * tmux and the state file really show. Here: spawn, bad input, --help, --version, completion;
 * ls, status, end, gc, history: cli-list.test.ts; send, logs, attach, watch: cli-pane.test.ts.
 */
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema } from '../src/model/schema.js';
import { CLI_PATH, LONG, cleanEnv, json, readState, refused, session, warden, type Warden } from './support/cli.js';
import { ownedWindows, useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('cli');
const { tmux } = server;

const HistorySchema = z.object({ history: z.array(HistoryEntrySchema) }).strict();

async function killWindow(windowId: string | null): Promise<void> {
  await tmux.run(['kill-window', '-t', windowId!]);
}

describe('spawn KEY [--mode …] [--cwd] [--env K=V]… [--label K=V]… [--group] [--resume-command] -- CMD', () => {
  it('starts a session: one tagged window, the session object on --json, a line for people', async () => {
    const w = warden(server);
    const dir = join(server.dir, 'work');
    mkdirSync(dir, { recursive: true });
    const info = session(
      await w.run(['spawn', 'api-fix', '--json', '--cwd', dir, '--label', 'ticket=T-12', '--label', 'team=core', ...LONG]),
    );
    expect(info).toMatchObject({
      key: 'api-fix',
      state: 'active',
      group: 'warden',
      command: ['sleep', '600'],
      cwd: dir,
      labels: { ticket: 'T-12', team: 'core' },
      exitStatus: null,
    });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
    expect(readState(w.stateFile).sessions['api-fix']?.snapshot.context.sessionId).toBe(info.sessionId);

    const human = await w.run(['spawn', 'second', ...LONG]);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^second: running window @\d+ pid \d+ {2}sleep 600\n$/);
  });

  it('passes --env and substitutes {key} and {sessionId}, in a --group of its own', async () => {
    const w = warden(server);
    const info = session(
      await w.run(['spawn', 'envy', '--json', '--group', 'other', '--env', 'GREETING=hi there', '--', 'sh', '-c', 'echo "$GREETING {key} {sessionId}"; sleep 600']),
    );
    expect(info.group).toBe('other');
    const pane = (await tmux.run(['list-panes', '-t', '=other:', '-F', '#{window_name}'])).trim();
    expect(pane).toBe('envy');
    let text = '';
    for (let i = 0; i < 200 && !text.includes('hi there'); i++) {
      text = (await w.run(['logs', 'envy'])).stdout;
    }
    expect(text).toContain(`hi there envy ${info.sessionId}`);
  });

  it('keeps an argument ending in ";" whole (tmux would read it as a command separator)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'semi', '--json', '--env', 'END=tail;', '--', 'sh', '-c', 'echo "[$END]"; sleep 600;']));
    let text = '';
    for (let i = 0; i < 200 && !text.includes('['); i++) text = (await w.run(['logs', 'semi'])).stdout;
    expect(text).toContain('[tail;]');
  });

  it('resolves a relative --cwd against the caller, not the tmux server', async () => {
    const w = warden(server);
    mkdirSync(join(server.dir, 'rel'), { recursive: true });
    const result = await execa(process.execPath, [CLI_PATH, '--socket', server.socket, '--state', w.stateFile, 'spawn', 'rel', '--json', '--cwd', 'rel', ...LONG], {
      cwd: server.dir,
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
    });
    expect(SessionInfoSchema.parse(JSON.parse(String(result.stdout))).cwd).toBe(join(server.dir, 'rel'));
  });

  it('--mode normal on a live key is a conflict (exit 3) naming ensure, resume and fresh; nothing written', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'alpha', '--json', ...LONG]));
    const before = w.stateBytes();
    refused(await w.run(['spawn', 'alpha', ...LONG]), 3, /alpha is active: use --mode ensure to keep it running, --mode resume to relaunch it or --mode fresh to restart it/);
    expect(w.stateBytes()).toEqual(before);
  });

  it('--mode resume on an active key returns the same session; --mode fresh mints a new id and ends the old window', async () => {
    const w = warden(server);
    const first = session(await w.run(['spawn', 'beta', '--json', ...LONG]));
    const resumed = session(await w.run(['spawn', 'beta', '--json', '--mode', 'resume']));
    expect(resumed.sessionId).toBe(first.sessionId);
    expect(resumed.windowId).toBe(first.windowId);
    const fresh = session(await w.run(['spawn', 'beta', '--json', '--mode', 'fresh']));
    expect(fresh.sessionId).not.toBe(first.sessionId);
    expect(fresh.command).toEqual(['sleep', '600']);
    expect(await ownedWindows(tmux, first.sessionId!)).toEqual([]);
    expect(await ownedWindows(tmux, fresh.sessionId!)).toEqual([fresh.windowId]);
    const history = json(HistorySchema, await w.run(['history', 'beta', '--json'])).history;
    expect(history.map((h) => [h.sessionId, h.reason])).toEqual([[first.sessionId, 'replaced']]);
  });

  it('--mode resume relaunches an orphaned session with --resume-command, {sessionId} substituted, same id', async () => {
    const w = warden(server);
    const first = session(
      await w.run(['spawn', 'gamma', '--json', '--resume-command', 'sh -c "echo resumed {sessionId}; sleep 600"', ...LONG]),
    );
    await killWindow(first.windowId);
    const resumed = session(await w.run(['spawn', 'gamma', '--json', '--mode', 'resume']));
    expect(resumed.sessionId).toBe(first.sessionId);
    expect(resumed.windowId).not.toBe(first.windowId);
    let text = '';
    for (let i = 0; i < 200 && !text.includes('resumed'); i++) text = (await w.run(['logs', 'gamma'])).stdout;
    expect(text).toContain(`resumed ${first.sessionId}`);
  });

  it('--mode resume and ensure refuse options other than the stored ones (exit 3), accept the same ones, and write nothing', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'delta', '--json', ...LONG]));
    const before = w.stateBytes();
    refused(await w.run(['spawn', 'delta', '--mode', 'resume', '--cwd', server.dir]), 3, /delta runs with another cwd: use --mode fresh to restart it with the new one \(--mode resume keeps the stored one\)/);
    refused(await w.run(['spawn', 'delta', '--mode', 'ensure', '--label', 'a=b', '--', 'echo', 'other']), 3, /delta runs with another command, labels: use --mode fresh/);
    expect(session(await w.run(['spawn', 'delta', '--json', '--mode', 'ensure', ...LONG])).state).toBe('active');
    expect(w.stateBytes()).toEqual(before);
  });

  it('a mistyped option is one line, with its suggestion', async () => {
    refused(await warden(server).run(['ls', '--jsn']), 2, /unknown option '--jsn' \(Did you mean --json\?\)/);
  });

  it('--mode resume of a key that has no session is not found (exit 4); nothing written', async () => {
    const w = warden(server);
    refused(await w.run(['spawn', 'nobody', '--mode', 'resume']), 4, /no session nobody to resume: start it with --mode ensure or --mode normal/);
    expect(w.stateBytes()).toBeNull();
  });
});

describe('bad input: one line naming the fix, exit 2, the state file untouched', () => {
  const cases: [string, string[], RegExp][] = [
    ['a key with tmux target syntax', ['spawn', 'a:b', ...LONG], /invalid key "a:b": use 1-64 characters/],
    ['a key with whitespace', ['spawn', 'a b', ...LONG], /invalid key "a b"/],
    ['a key too long', ['spawn', 'k'.repeat(65), ...LONG], /invalid key/],
    ['a bad key to status', ['status', 'x.y'], /invalid key "x.y"/],
    ['a bad key to end', ['end', '.'], /invalid key "."/],
    ['a bad key to history', ['history', 'a=b'], /invalid key "a=b"/],
    ['an unknown --mode', ['spawn', 'k', '--mode', 'sideways', ...LONG], /'sideways' is invalid\. Allowed choices are normal, resume, fresh.*--help/],
    ['--env without =', ['spawn', 'k', '--env', 'NOVALUE', ...LONG], /--env "NOVALUE" is not K=V: write it as --env NAME=value/],
    ['--env with a bad name', ['spawn', 'k', '--env', '1X=y', ...LONG], /invalid --env "1X": an environment variable name is/],
    ['--label without =', ['spawn', 'k', '--label', 'T-1', ...LONG], /--label "T-1" is not K=V/],
    ['ls --label without =', ['ls', '--label', 'T-1'], /--label "T-1" is not K=V/],
    ['a missing --cwd', ['spawn', 'k', '--cwd', '/nonexistent/warden', ...LONG], /--cwd \/nonexistent\/warden is not a directory/],
    ['no command', ['spawn', 'k'], /a command is required after --/],
    ['an empty command', ['spawn', 'k', '--', ''], /the command is empty: name a program after --/],
    ['a bad --group', ['spawn', 'k', '--group', 'a:b', ...LONG], /group/],
    ['a missing key', ['status'], /missing required argument 'key'.*warden status --help/],
    ['an unknown verb', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['ls', '--wide'], /unknown option '--wide'/],
    ['-n that is not a number', ['logs', 'k', '-n', 'many'], /-n "many" is not a number of lines/],
    ['an unknown shell', ['completion', 'powershell'], /Allowed choices are bash, zsh, fish/],
  ];

  /** A state file holding one live session, shared by the cases that reach the engine. */
  let populated: Promise<Warden> | undefined;
  const withSession = () =>
    (populated ??= (async () => {
      const w = warden(server);
      session(await w.run(['spawn', 'keep', '--json', ...LONG]));
      return w;
    })());

  it.concurrent.each(cases)('%s', async (_what, args, says) => {
    if (args[0] !== 'spawn') {
      const fresh = warden(server);
      refused(await fresh.run(args), 2, says);
      expect(fresh.stateBytes()).toBeNull();
      return;
    }
    // A spawn gets as far as the engine and its state file: an existing file stays byte for byte.
    const w = await withSession();
    const before = w.stateBytes();
    expect(before).not.toBeNull();
    refused(await w.run(args), 2, says);
    expect(w.stateBytes()).toEqual(before);
  });
});

/** The verbs `warden --help` lists (others' verbs, such as graph or doctor, included when present). */
async function verbs(): Promise<string[]> {
  const help = (await warden(server).run(['--help'])).stdout;
  const section = help.slice(help.indexOf('Commands:'));
  return [...section.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]!).filter((v) => v !== 'help');
}

describe('--help on every verb, --version', () => {
  it('lists every verb of the contract this CLI owns', async () => {
    expect(await verbs()).toEqual(
      expect.arrayContaining(['spawn', 'ls', 'status', 'end', 'attach', 'send', 'logs', 'gc', 'watch', 'history', 'completion']),
    );
  });

  it('prints usage and an example for every verb, exit 0', async () => {
    const all = await verbs();
    const results = await Promise.all(all.map((verb) => warden(server).run([verb, '--help'])));
    for (const [i, verb] of all.entries()) {
      const result = results[i]!;
      expect(result.exitCode, verb).toBe(0);
      expect(result.stdout, verb).toMatch(new RegExp(`^Usage: warden ${verb}\\b`));
      expect(result.stdout, verb).toMatch(/\nExamples?:\n {2}(warden|source) /);
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const result = await warden(server).run(['--version']);
    expect(result).toMatchObject({ exitCode: 0, stdout: `${version}\n` });
  });
});

describe('completion bash|zsh (generated from the program)', () => {
  /** What bash completes for the words typed so far (the last one being completed). */
  async function complete(script: string, words: string[]): Promise<string[]> {
    const file = join(server.dir, 'completion.bash');
    writeFileSync(file, script);
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const { stdout } = await execa('bash', [
      '-c',
      `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _warden; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ]);
    return stdout.split('\n').filter(Boolean);
  }

  it('bash completes every verb, each verb\'s options, and --mode / shell choices', async () => {
    const script = (await warden(server).run(['completion', 'bash'])).stdout;
    expect(await complete(script, ['warden', ''])).toEqual(expect.arrayContaining([...(await verbs()), '--json', '--state']));
    expect(await complete(script, ['warden', 'sp'])).toEqual(['spawn']);
    expect(await complete(script, ['warden', 'spawn', 'k', '--mode', ''])).toEqual(['normal', 'resume', 'fresh', 'ensure']);
    expect(await complete(script, ['warden', '--state', 'x.json', 'ls', '--'])).toEqual(expect.arrayContaining(['--label', '--json']));
    expect(await complete(script, ['warden', 'send', 'k', '--no'])).toEqual(['--no-enter']);
    expect(await complete(script, ['warden', 'completion', ''])).toEqual(expect.arrayContaining(['bash', 'zsh']));
  });

  it('zsh: parses, and registers _warden for warden after compinit', async () => {
    const script = (await warden(server).run(['completion', 'zsh'])).stdout;
    expect(script).toMatch(/^#compdef warden\n/);
    for (const verb of await verbs()) expect(script).toContain(`'${verb}:`);
    expect(script).toContain("'--mode[");
    const zsh = await execa('zsh', ['--version'], { reject: false });
    if (zsh.failed) return; // zsh not installed: the text is checked above
    const file = join(server.dir, 'completion.zsh');
    writeFileSync(file, script);
    const loaded = await execa('zsh', ['-f', '-c', `autoload -U compinit; compinit -u -D; source '${file}'; print -r -- $_comps[warden]`]);
    expect(loaded.stdout.trim()).toBe('_warden');
  });
});
