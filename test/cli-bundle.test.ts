/**
 * The `warden` command as installed: `bin` runs dist/src/warden.cjs, a launcher that runs the bundled
 * CLI (dist/src/cli.cjs) through a V8 code cache. Built by `npm run build` (which `npm test` runs).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LONG_RUNNING, useTmuxServer } from './support/tmux-server.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const launcher = join(root, 'dist', 'src', 'warden.cjs');
const legacyPath = join(root, 'dist', 'src', 'cli.js');
const bundle = join(root, 'dist', 'src', 'cli.cjs');
const server = useTmuxServer('cli-bundle');
const cacheHome = mkdtempSync(join(tmpdir(), 'warden-cache-'));
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));

function warden(args: string[], stateFile: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_STATE: stateFile, WARDEN_TMUX_SOCKET: server.socket, XDG_CACHE_HOME: cacheHome };
  delete env.TMUX;
  return run(process.execPath, [launcher, ...args], { env, encoding: 'utf8' });
}

describe('the bundled CLI', () => {
  it('is what bin points at: one launcher and one bundle, with the inspector left out', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(resolve(root, pkg.bin.warden!)).toBe(launcher);
    expect(existsSync(bundle)).toBe(true);
    const source = readFileSync(bundle, 'utf8');
    // Loaded only by the verb that needs it, never at start-up.
    expect(source).not.toContain('@statelyai/inspect/dist');
    expect(source).not.toMatch(/^#!/);
    // The path scripts and tests have always run starts the same launcher.
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome };
    const { stdout } = await run(process.execPath, [legacyPath, '--version'], { env, encoding: 'utf8' });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists real sessions as JSON and prints its version', async () => {
    const engine = await server.engine();
    await engine.spawn('bundled', { command: LONG_RUNNING });
    const { stdout } = await warden(['ls', '--json'], engine.stateFile);
    const { sessions } = JSON.parse(stdout) as { sessions: { key: string; state: string }[] };
    expect(sessions).toEqual([expect.objectContaining({ key: 'bundled', state: 'active' })]);
    const version = await warden(['--version'], engine.stateFile);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('keeps a code cache in the user cache directory and runs from it', async () => {
    const stateFile = server.stateFile();
    await warden(['ls', '--json'], stateFile);
    const cached = readdirSync(join(cacheHome, 'tmux-warden'));
    expect(cached).toEqual([expect.stringMatching(/^cli-v\d+.*\.v8cache$/)]);
    const { stdout } = await warden(['ls', '--json'], stateFile);
    expect(JSON.parse(stdout)).toEqual({ sessions: [] });
    expect(readdirSync(join(cacheHome, 'tmux-warden'))).toEqual(cached);
  });

  it('exits 2 with one line naming the fix on bad input', async () => {
    const failure = await warden(['spawn', 'bad:key', '--', 'true'], server.stateFile()).catch((err: { code: number; stderr: string }) => err);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/^warden: invalid key/);
  });
});
