/**
 * Lifecycle hooks: the config file is validated with one clear line, hooks run on entering the
 * states they name with the session on stdin and WARDEN_* in the environment, and a failing or
 * hanging hook is reported without ever blocking or undoing the transition.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  HOOK_STATES,
  HookRunner,
  SessionInfoSchema,
  StateDocumentSchema,
  hookFires,
  loadHooksConfig,
  parseHooksConfig,
  type HookResult,
  type HooksConfigInput,
} from '../src/index.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('hooks');
const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');

function runner(config: HooksConfigInput) {
  const results: HookResult[] = [];
  const hooks = new HookRunner(parseHooksConfig(config), { cwd: server.dir, onResult: (r) => results.push(r) });
  return { hooks, results };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the config file is validated with one line naming the file and the field', () => {
  const file = () => join(server.dir, `config-${Math.random().toString(36).slice(2)}.json`);

  it.each([
    [{ hooks: { orphand: 'true' } }, /hooks\.orphand: unknown state "orphand": use one of normal, spawning, active/],
    [{ hoks: {} }, /hoks: unknown field "hoks"/],
    [{ hooks: { orphaned: 3 } }, /hooks\.orphaned: a hook is a shell command string/],
    [{ hooks: { ending: [{ run: 'true', timeout: 5 }] } }, /hooks\.ending\.0\.timeout: unknown field "timeout"/],
    [{ hooks: { ending: '' } }, /hooks\.ending: a hook command may not be empty/],
    [{ hookTimeoutMs: -1 }, /hookTimeoutMs: /],
  ])('refuses %j', async (config, message) => {
    const path = file();
    writeFileSync(path, JSON.stringify(config));
    const error = await loadHooksConfig(path).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', exitCode: 2 });
    expect((error as Error).message).toContain(`invalid config ${path}:1 `);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('refuses a file that is not JSON, and a named file that does not exist', async () => {
    const path = file();
    writeFileSync(path, '{ hooks');
    await expect(loadHooksConfig(path)).rejects.toThrow(`config ${path}:1 is not JSON`);
    await expect(loadHooksConfig(file(), { required: true })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('treats a missing default file as no hooks, and applies the default timeout', async () => {
    expect(await loadHooksConfig(file())).toBeNull();
    expect(parseHooksConfig({ hooks: { orphaned: 'true' } })).toEqual({ hookTimeoutMs: 10_000, hooks: { orphaned: 'true' }, profiles: {} });
  });
});

describe('a hook fires on entering the state it names', () => {
  it.each([
    ['active', 'spawning', 'active.running', true],
    ['active', 'orphaned', 'active.exited', true],
    ['active', 'active.running', 'active.exited', false],
    ['active.exited', 'active.running', 'active.exited', true],
    ['active.running', 'spawning', 'active.exited', false],
    ['orphaned', 'active.running', 'orphaned', true],
    ['normal', 'ending', 'normal', true],
    ['ending', 'orphaned', 'ending', true],
    ['*', 'active.running', 'active.exited', true],
  ] as const)('%s on %s → %s: %s', (state, from, to, fires) => {
    expect(hookFires(state, { from, to })).toBe(fires);
  });
});

describe('hooks run on real transitions, with the session on stdin and WARDEN_* in the environment', () => {
  it('runs the orphaned hook when a window is killed behind the engine', async () => {
    const out = join(server.dir, 'orphaned');
    const { hooks, results } = runner({
      hooks: { orphaned: `cat > ${out}.json; env | grep '^WARDEN_' | sort > ${out}.env` },
    });
    const engine = await server.engine({ onTransition: hooks.listener });
    const info = await engine.spawn('lost', { command: LONG_RUNNING });
    await server.tmux.run(['kill-window', '-t', info.windowId!]);
    await engine.reconcile();
    await hooks.idle();
    expect(results.map((r) => [r.hook, r.ok])).toEqual([['orphaned', true]]);
    const session = SessionInfoSchema.parse(JSON.parse(readFileSync(`${out}.json`, 'utf8')));
    expect(session).toMatchObject({ key: 'lost', state: 'orphaned', sessionId: info.sessionId, windowId: null });
    const env = readFileSync(`${out}.env`, 'utf8');
    expect(env).toContain('WARDEN_KEY=lost\n');
    expect(env).toContain(`WARDEN_SESSION_ID=${info.sessionId}\n`);
    expect(env).toMatch(/^WARDEN_FROM=active\.running\.(busy|idle)$/m);
    expect(env).toContain('WARDEN_TO=orphaned\n');
    expect(env).toContain('WARDEN_EVENT=WINDOW_GONE\n');
    expect(env).toContain('WARDEN_EXIT_STATUS=\n');
  });

  it('passes the exit status to an active.exited hook', async () => {
    // Fed directly: whether tmux reports an exit promptly is the engine's business, not the hook's.
    const out = join(server.dir, 'exited.txt');
    const { hooks, results } = runner({ hooks: { 'active.exited': `echo "$WARDEN_KEY $WARDEN_EXIT_STATUS" > ${out}` } });
    const session = SessionInfoSchema.parse({
      key: 'quitter', state: 'active', sessionId: 'id-1', group: 'warden', windowId: '@1', paneId: '%1', pid: 1,
      command: ['sh'], cwd: null, labels: {}, createdAt: null, updatedAt: null, exitStatus: 7,
      lastCommand: null, restarts: 0, restartPolicy: null, restartAt: null,
    });
    hooks.listener({ key: 'quitter', sessionId: 'id-1', from: 'active.running', to: 'active.exited', event: 'PANE_EXITED', at: '', origin: 'here', session });
    hooks.listener({ key: 'quitter', sessionId: 'id-1', from: 'active.exited', to: 'ending', event: 'END', at: '', origin: 'here', session });
    await hooks.close();
    expect(results.map((r) => r.hook)).toEqual(['active.exited']);
    expect(readFileSync(out, 'utf8')).toBe('quitter 7\n');
  });

  it('does not run again for a transition another process made (and ran its hooks for)', async () => {
    const out = join(server.dir, 'elsewhere.txt');
    const { hooks, results } = runner({ hooks: { '*': `echo "$WARDEN_KEY" >> ${out}` } });
    const session = SessionInfoSchema.parse({
      key: 'remote', state: 'active', sessionId: 'id-2', group: 'warden', windowId: '@2', paneId: '%2', pid: 2,
      command: ['sh'], cwd: null, labels: {}, createdAt: null, updatedAt: null, exitStatus: null,
      lastCommand: null, restarts: 0, restartPolicy: null, restartAt: null,
    });
    hooks.listener({ key: 'remote', sessionId: 'id-2', from: 'normal', to: 'active.running', event: 'state-file', at: '', origin: 'elsewhere', session });
    await hooks.close();
    expect(results).toEqual([]);
  });
});

describe('a failing or hanging hook is reported and never blocks the transition', () => {
  it('reports a failure and a timeout, kills the hook process group, and runs the next hook', async () => {
    const pidFile = join(server.dir, 'background.pid');
    const after = join(server.dir, 'after.txt');
    const { hooks, results } = runner({
      hookTimeoutMs: 300,
      hooks: {
        ending: ['echo "cannot notify" >&2; exit 3', `sleep 600 & echo $! > ${pidFile}; wait`, `echo ran > ${after}`],
      },
    });
    const engine = await server.engine({ onTransition: hooks.listener });
    await engine.spawn('doomed', { command: LONG_RUNNING });
    const ended = await engine.end('doomed');
    // The end is durable and reported before any hook has finished.
    expect(ended.state).toBe('normal');
    expect(StateDocumentSchema.parse(JSON.parse(readFileSync(engine.stateFile, 'utf8'))).sessions.doomed).toBeUndefined();
    await hooks.close();
    expect(results.map((r) => [r.hook, r.ok, r.exitCode, r.timedOut])).toEqual([
      ['ending[0]', false, 3, false],
      ['ending[1]', false, null, true],
      ['ending[2]', true, 0, false],
    ]);
    expect(results[0]!.message).toMatch(/^hook ending\[0\] for doomed \(active\.running\.(busy|idle) → ending\) exited 3: cannot notify$/);
    expect(results[1]!.message).toContain('timed out after 300 ms and was killed');
    expect(readFileSync(after, 'utf8')).toBe('ran\n');
    const background = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !processAlive(background), 'the timed-out hook’s child to be killed');
  });
});

describe('warden still reads the deprecated warden.config.json beside the state file', () => {
  const env = (stateFile: string) => ({
    ...process.env,
    WARDEN_STATE: stateFile,
    WARDEN_TMUX_SOCKET: server.socket,
    XDG_CONFIG_HOME: join(server.dir, 'no-config-home'),
  });

  it('runs the hooks of the transitions a verb makes, and reports a failing one on stderr with exit 0', async () => {
    const stateFile = server.stateFile();
    const config = join(server.dir, 'warden.config.json');
    writeFileSync(config, JSON.stringify({ hooks: { active: 'echo "$WARDEN_KEY:$WARDEN_TO" >> spawned.txt', ending: 'exit 9' } }));
    try {
      await run(process.execPath, [CLI, 'spawn', 'cli-hooked', '--', ...LONG_RUNNING], { env: env(stateFile) });
      // Relative paths in a hook are relative to the config's directory.
      expect(readFileSync(join(server.dir, 'spawned.txt'), 'utf8')).toBe('cli-hooked:active.running.busy\n');
      const ended = await run(process.execPath, [CLI, 'end', 'cli-hooked'], { env: env(stateFile) });
      expect(ended.stderr).toMatch(
        new RegExp(
          `^warden: reading ${config.replaceAll('.', '\\.')}, which is deprecated: move it to .*config\\.yaml \\(YAML or JSON\\)\\n` +
            'warden: hook ending for cli-hooked \\(active\\.running\\.(busy|idle) → ending\\) exited 9\\n$',
        ),
      );
      expect(ended.stdout).toContain('cli-hooked: ended');
    } finally {
      writeFileSync(config, '{}');
    }
  });

  it('refuses a bad --config with exit 2 before anything is done', async () => {
    const stateFile = server.stateFile();
    const config = join(server.dir, 'bad.config.json');
    writeFileSync(config, JSON.stringify({ hooks: { orphand: 'true' } }));
    const error = await run(process.execPath, [CLI, '--config', config, 'spawn', 'never', '--', ...LONG_RUNNING], {
      env: env(stateFile),
    }).catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toBe(
      `warden: invalid config ${config}:1 hooks.orphand: unknown state "orphand": use one of ${HOOK_STATES.join(', ')}\n`,
    );
    expect(existsSync(stateFile)).toBe(false);
  });
});
