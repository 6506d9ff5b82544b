/**
 * The `warden` CLI, driven as a subprocess (the built dist/src/cli.js) against a real tmux server
 * on a private socket and a state file of its own: one describe per verb of the DESIGN CLI table,
 * asserting its human output, its --json shape (parsed by the schema), its exit code, and what
 * tmux and the state file really show. Pane verbs (send, logs, attach) and watch: cli-pane.test.ts.
 */
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema, StateDocumentSchema } from '../src/schema.js';
import { CLI_PATH, cleanEnv, warden, type CliResult } from './support/cli.js';
import { ownedWindows, useTmuxServer } from './support/tmux-server.js';

const server = useTmuxServer('cli');
const { tmux } = server;

const SessionsSchema = z.object({ sessions: z.array(SessionInfoSchema) }).strict();
const GcSchema = z
  .object({ dryRun: z.boolean(), sessions: z.array(SessionInfoSchema), failed: z.array(z.object({ key: z.string() }).loose()) })
  .strict();
const HistorySchema = z.object({ history: z.array(HistoryEntrySchema) }).strict();

const LONG = ['--', 'sleep', '600'];

function json<T>(schema: z.ZodType<T>, result: CliResult): T {
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return schema.parse(JSON.parse(result.stdout));
}

function session(result: CliResult) {
  return json(SessionInfoSchema.strict(), result);
}

/** A refusal: its exit code, exactly one line on stderr naming the fix, nothing on stdout. */
function refused(result: CliResult, exitCode: number, says: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^warden: [^\n]+\n$/);
  expect(result.stderr).toMatch(says);
  expect(result.exitCode).toBe(exitCode);
}

function readState(file: string) {
  return StateDocumentSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

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

  it('--mode normal on a live key is a conflict (exit 3) naming resume and fresh; nothing written', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'alpha', '--json', ...LONG]));
    const before = w.stateBytes();
    refused(await w.run(['spawn', 'alpha', ...LONG]), 3, /alpha is active: use --mode resume to attach or --mode fresh to restart/);
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

  it('--mode resume of a key that has no session is not found (exit 4); nothing written', async () => {
    const w = warden(server);
    refused(await w.run(['spawn', 'nobody', '--mode', 'resume']), 4, /no session nobody to resume: spawn it with --mode normal/);
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
    ['an unknown shell', ['completion', 'fish'], /Allowed choices are bash, zsh/],
  ];

  it.each(cases)('%s', async (_what, args, says) => {
    const fresh = warden(server);
    refused(await fresh.run(args), 2, says);
    expect(fresh.stateBytes()).toBeNull();
  });

  it('leaves an existing state file byte for byte as it was', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'keep', '--json', ...LONG]));
    const before = w.stateBytes();
    for (const [, args] of cases) {
      const result = await w.run(args.map((a) => (a === 'k' ? 'keep2' : a)));
      expect(result.exitCode).toBe(2);
    }
    expect(w.stateBytes()).toEqual(before);
  });
});

describe('ls (after one reconcile)', () => {
  it('prints a table for people: key, state, age, window, pid, exit status, command; plain when piped', async () => {
    const w = warden(server);
    const a = session(await w.run(['spawn', 'one', '--json', ...LONG]));
    const b = session(await w.run(['spawn', 'two', '--json', '--', 'sh', '-c', 'exit 3']));
    await w.run(['spawn', 'three', '--json', ...LONG]).then(session).then((s) => killWindow(s.windowId));
    let table = '';
    for (let i = 0; i < 200 && !/exited/.test(table); i++) table = (await w.run(['ls'])).stdout;
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+STATE\s+AGE\s+WINDOW\s+PID\s+EXIT\s+COMMAND$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^one\\s+running\\s+\\d+s\\s+${a.windowId}\\s+${a.pid}\\s+-\\s+sleep 600$`)),
      expect.stringMatching(/^three\s+orphaned\s+\d+s\s+-\s+-\s+-\s+sleep 600$/),
      expect.stringMatching(new RegExp(`^two\\s+exited\\s+\\d+s\\s+${b.windowId}\\s+\\d+\\s+3\\s+sh -c exit 3$`)),
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
    expect((await w.run(['ls', '--label', 'ticket=T-9'])).stdout).toBe('no session carries those labels\n');
  });

  it('says how to start when there is nothing', async () => {
    const w = warden(server);
    expect((await w.run(['ls'])).stdout).toBe("no sessions: start one with 'warden spawn KEY -- CMD'\n");
    expect(json(SessionsSchema, await w.run(['ls', '--json']))).toEqual({ sessions: [] });
  });
});

describe('status KEY', () => {
  it('shows one session after a reconcile: details for people, the session object on --json', async () => {
    const w = warden(server);
    const s = session(await w.run(['spawn', 'stat', '--json', '--label', 'ticket=T-7', ...LONG]));
    const human = await w.run(['status', 'stat']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/^key\s+stat$/m);
    expect(human.stdout).toMatch(/^state\s+running$/m);
    expect(human.stdout).toContain(s.sessionId!);
    expect(human.stdout).toMatch(/^labels\s+ticket=T-7$/m);
    expect(session(await w.run(['status', 'stat', '--json']))).toEqual(s);
    await killWindow(s.windowId);
    expect(session(await w.run(['status', 'stat', '--json'])).state).toBe('orphaned');
  });

  it('is not found (exit 4) for an unknown key', async () => {
    const w = warden(server);
    refused(await w.run(['status', 'nope']), 4, /no session nope: 'warden ls' lists them/);
  });
});

describe('end KEY', () => {
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

describe('gc', () => {
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

describe('history [KEY]', () => {
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
    expect(table[2]).toMatch(new RegExp(`^\\S+Z\\s+hb\\s+ended\\s+5\\s+${b.sessionId}\\s+sh -c exit 5$`));
    expect((await w.run(['history', 'never'])).stdout).toBe('no ended sessions of never\n');
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
    for (const verb of await verbs()) {
      const result = await warden(server).run([verb, '--help']);
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
    expect(await complete(script, ['warden', 'spawn', 'k', '--mode', ''])).toEqual(['normal', 'resume', 'fresh']);
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
