/**
 * What a new user meets in everyday use of the built `warden`: errors as JSON under --json,
 * messages that name the fix, long commands shown so people can read and paste them, and hooks
 * that see the same state file as the command that ran them.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema } from '../src/model/schema.js';
import { CLI_PATH, LONG, cleanEnv, json, refused, session, shellLine, warden } from './support/cli.js';
import { useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('cli-everyday');

const ErrorLine = z.object({ error: z.object({ code: z.string(), message: z.string() }).strict() }).strict();

/** A refusal under --json: its exit code, one JSON line on stderr with this code, nothing on stdout. */
function refusedAsJson(result: { exitCode: number; stdout: string; stderr: string }, exitCode: number, code: string, says: RegExp) {
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^[^\n]+\n$/);
  const { error } = ErrorLine.parse(JSON.parse(result.stderr));
  expect(error.code).toBe(code);
  expect(error.message).toMatch(says);
  expect(result.exitCode).toBe(exitCode);
}

describe('errors under --json are JSON on stderr, with the same exit codes', () => {
  it('bad usage (2), conflict (3), no such session (4), runtime error (1)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'dup', '--json', ...LONG]));
    refusedAsJson(await w.run(['--json', 'ls', '--wide']), 2, 'INVALID_INPUT', /^unknown option '--wide' \(see 'warden ls --help'\)$/);
    refusedAsJson(await w.run(['spawn', 'k', '--json', '--mode', 'sideways', ...LONG]), 2, 'INVALID_INPUT', /'sideways' is invalid/);
    refusedAsJson(await w.run(['spawn', 'bad:key', '--json', ...LONG]), 2, 'INVALID_INPUT', /^invalid key "bad:key"/);
    refusedAsJson(await w.run(['spawn', 'dup', '--json', ...LONG]), 3, 'CONFLICT', /^dup is active: use --mode ensure to keep it running, --mode resume/);
    refusedAsJson(await w.run(['status', 'nobody', '--json']), 4, 'NOT_FOUND', /^no session nobody: 'warden ls' lists them$/);
    const noTmux = { PATH: join(server.dir, 'empty-path') };
    refusedAsJson(await w.run(['ls', '--json'], { env: noTmux }), 1, 'TMUX_NOT_FOUND', /^tmux not found \(tmux\): install tmux >= 3\.2$/);
  });

  it('a --json after the -- of spawn is the program\'s: the error stays a line for people', async () => {
    refused(await warden(server).run(['spawn', 'bad:key', '--', 'prog', '--json']), 2, /^warden: invalid key "bad:key"/);
  });
});

describe('messages that name the fix', () => {
  it("spawn KEY PROGRAM --its-option without -- says to put -- before the command, not 'did you mean --mode?'", async () => {
    const w = warden(server);
    refused(
      await w.run(['spawn', 'k3', 'claude', '--model', 'opus']),
      2,
      /^warden: unknown option '--model': if it is claude's, put -- before the command: warden spawn k3 -- claude --model opus \(see 'warden spawn --help'\)\n$/,
    );
    // A typo among warden's own options, before the program, is still one.
    refused(await w.run(['spawn', 'k3', '--mdoe', 'fresh', '--', 'claude']), 2, /unknown option '--mdoe' \(Did you mean --mode\?\)/);
    expect(w.stateBytes()).toBeNull();
  });

  it('a bad --group is echoed back', async () => {
    refused(await warden(server).run(['spawn', 'k', '--group', 'a:b', ...LONG]), 2, /^warden: invalid --group "a:b": a group is 1-64 characters/);
  });

  it('a stored directory that is gone is named as such, not as a --cwd the user never passed', async () => {
    const w = warden(server);
    const dir = join(server.dir, 'was-here');
    mkdirSync(dir);
    const s = session(await w.run(['spawn', 'moved', '--json', '--cwd', dir, ...LONG]));
    await execa('tmux', ['-L', server.socket, 'kill-window', '-t', s.windowId!]);
    rmSync(dir, { recursive: true });
    const resumed = await w.run(['spawn', 'moved', '--mode', 'resume']);
    refused(resumed, 2, new RegExp(`^warden: moved ran in ${dir}, which is no longer a directory: recreate it, or start moved elsewhere with 'warden spawn moved --mode fresh --cwd DIR'\n$`));
    expect(resumed.stderr).not.toContain('--cwd /');
  });

  it('doctor --repair with a bad backup does not suggest restoring the backup of the backup', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'kept', '--json', ...LONG]));
    session(await w.run(['spawn', 'kept2', '--json', ...LONG]));
    writeFileSync(w.stateFile, '{bad');
    writeFileSync(`${w.stateFile}.bak`, '{bad');
    const repaired = await w.run(['doctor', '--repair']);
    expect(repaired.exitCode).toBe(1);
    expect(repaired.stderr).toContain(`its backup ${w.stateFile}.bak is not a valid state file either`);
    expect(`${repaired.stdout}${repaired.stderr}`).not.toContain('.bak.bak');
  });

  it('a lock a live process holds is waited for once per call, not once per commit (spawn, rollback, flush at close)', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'locked', '--json', ...LONG]));
    // A live holder, as a long write of another warden would be.
    const lock = join(import.meta.dirname, '..', 'dist', 'src', 'store', 'lock.js');
    const paths = join(import.meta.dirname, '..', 'dist', 'src', 'store', 'paths.js');
    const holder = execa(process.execPath, [
      '--input-type=module',
      '-e',
      `const { StateFileLock } = await import(${JSON.stringify(lock)});
      const { stateFilePaths } = await import(${JSON.stringify(paths)});
      await new StateFileLock(stateFilePaths(${JSON.stringify(w.stateFile)})).acquire();
      setTimeout(() => {}, 120000);`,
    ]);
    try {
      await waitFor(() => existsSync(`${w.stateFile}.lock`), 'the holder to take the lock');
      const started = Date.now();
      const blocked = await w.run(['spawn', 'waits', ...LONG]);
      const elapsed = Date.now() - started;
      refused(blocked, 1, new RegExp(`is locked by process ${holder.pid}, which is still running`));
      // One wait of 15 s: three (45 s) before.
      expect(elapsed).toBeLessThan(15_000 * 1.5);
    } finally {
      holder.kill();
      await holder.catch(() => undefined);
    }
  }, 90_000);

  it('a value over 4096 characters is refused naming the ways around it', async () => {
    const w = warden(server);
    refused(
      await w.run(['spawn', 'long', '--', 'echo', 'x'.repeat(5000)]),
      2,
      /command\.1: 5000 characters, over the 4096 a value may have: keep long text in a file the command reads \(-- sh -c 'claude "\$\(cat prompt\.md\)"'\), or type it in after the start with 'warden send KEY'/,
    );
    expect(w.stateBytes()).toBeNull();
  });
});

describe('long commands in ls and history', () => {
  /** A command of 9,000 characters, and a short one whose words need quoting. */
  const BIG = ['sh', '-c', 'sleep 600 # big', ...Array.from({ length: 3 }, (_, i) => `${i}`.repeat(3000))];
  const QUOTED = ['sh', '-c', 'sleep 600 # "$@"', 'x', "it's", 'two words', '$HOME', '{sessionId}'];
  const Sessions = z.object({ sessions: z.array(SessionInfoSchema.strict()) }).strict();
  const History = z.object({ history: z.array(HistoryEntrySchema) }).strict();

  /** The COMMAND cell of KEY's row in a table. */
  function commandCell(table: string, key: string): string {
    const header = table.split('\n')[0]!;
    const row = table.split('\n').find((line) => line.split(/\s+/).includes(key))!;
    return row.slice(header.indexOf('COMMAND'));
  }

  it('are cut for people and shell-quoted so they paste back; --json keeps them whole', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'big', '--json', '--', ...BIG]));
    session(await w.run(['spawn', 'quoted', '--json', '--', ...QUOTED]));
    const table = (await w.run(['ls'])).stdout;
    const big = commandCell(table, 'big');
    expect(big.length).toBe(200);
    expect(big).toMatch(/^sh -c 'sleep 600 # big' 0+…$/);
    const quoted = commandCell(table, 'quoted');
    expect(quoted).toBe(`sh -c 'sleep 600 # "$@"' x 'it'\\''s' 'two words' '$HOME' {sessionId}`);
    // Pasted into a shell, it is the same argv.
    const pasted = await execa('sh', ['-c', `set -- ${quoted}; printf '%s\\0' "$@"`]);
    expect(pasted.stdout.split('\0').slice(0, -1)).toEqual(QUOTED);
    const listed = json(Sessions, await w.run(['ls', '--json'])).sessions;
    expect(listed.find((s) => s.key === 'big')?.command).toEqual(BIG);

    session(await w.run(['end', 'big', '--json']));
    const history = (await w.run(['history'])).stdout;
    expect(commandCell(history, 'big')).toMatch(/^sh -c 'sleep 600 # big' 0+…$/);
    expect(json(History, await w.run(['history', '--json'])).history.find((h) => h.key === 'big')?.command).toEqual(BIG);
  });

  it('fit the terminal when ls runs in one', async () => {
    const w = warden(server);
    session(await w.run(['spawn', 'wide', '--json', '--', ...BIG]));
    const name = 'narrow-terminal';
    await execa('tmux', ['-L', server.socket, 'new-session', '-d', '-s', name, '-x', '100', '-y', '20', 'sh']);
    await execa('tmux', ['-L', server.socket, 'send-keys', '-t', `=${name}:`, '-l', `${shellLine(w.argv(['ls']))}; echo DONE`]);
    await execa('tmux', ['-L', server.socket, 'send-keys', '-t', `=${name}:`, 'Enter']);
    const screen = await waitFor(async () => {
      const text = (await execa('tmux', ['-L', server.socket, 'capture-pane', '-p', '-t', `=${name}:`])).stdout;
      return /^DONE$/m.test(text) ? text : null;
    }, 'ls to finish in the terminal');
    const row = screen.split('\n').find((line) => line.startsWith('wide '))!;
    expect(row).toMatch(/^wide\s+running\s.*sh -c 'sleep 600 # big' 0+…$/);
    expect(row.length).toBe(100);
  });
});

describe('a relative --state', () => {
  it('reaches hooks as an absolute WARDEN_STATE: a hook running warden elsewhere sees the sessions', async () => {
    const project = join(server.dir, 'project');
    mkdirSync(join(project, 'rel'), { recursive: true });
    const seen = join(project, 'seen');
    // The hook runs beside its config file; it then runs `warden ls` from yet another directory.
    const hook = `echo "$WARDEN_STATE" > ${seen}.state; cd / && '${process.execPath}' '${CLI_PATH}' ls --json > ${seen}.json`;
    writeFileSync(join(project, 'rel', 'warden.config.json'), JSON.stringify({ hooks: { active: hook } }));
    const spawned = await execa(process.execPath, [CLI_PATH, '--socket', server.socket, '--state', 'rel/state.json', 'spawn', 'hooked', ...LONG], {
      cwd: project,
      env: cleanEnv(),
      extendEnv: false,
      reject: false,
    });
    expect(spawned.exitCode, spawned.stderr).toBe(0);
    expect(readFileSync(`${seen}.state`, 'utf8').trim()).toBe(join(project, 'rel', 'state.json'));
    const listed = z.object({ sessions: z.array(SessionInfoSchema) }).parse(JSON.parse(readFileSync(`${seen}.json`, 'utf8')));
    expect(listed.sessions.map((s) => s.key)).toEqual(['hooked']);
  });
});
