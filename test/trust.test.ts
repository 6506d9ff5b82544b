/**
 * Invariant 13: the state file, its directory and a config that can run commands are the user's
 * own; anything another user owns or can write is refused (exit 2, one line naming the fix) and
 * never read or run. A symlinked state path is written through, never replaced by a file.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateDocumentSchema } from '../src/model/schema.js';
import { refused, warden } from './support/cli.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { LONG_RUNNING, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('trust');
/** Another user's uid: only root can give a file away, so those cases need root. */
const OTHER_UID = 4242;
const asRoot = process.getuid?.() === 0;

async function windowNames(): Promise<string[]> {
  const probe = await server.tmux.probeAll();
  return probe.kind === 'ok' ? probe.panes.map((p) => p.windowName) : [];
}

describe('trust in the state directory and the config (invariant 13)', () => {
  it.runIf(asRoot)('a planted state file another user owns is refused: its abandoned spawn is never launched', async () => {
    const dir = join(server.dir, 'planted');
    mkdirSync(dir, { mode: 0o700 });
    const stateFile = join(dir, 'state.json');
    const marker = join(server.dir, 'planted-ran');
    await writeRecord(stateFile, 'planted', await persistedIn('spawning', 'planted', spec(['sh', '-c', `touch ${marker}; sleep 600`]), randomUUID()));
    chownSync(stateFile, OTHER_UID, OTHER_UID);
    const before = readFileSync(stateFile);

    const cli = warden(server, stateFile);
    refused(await cli.run(['ls']), 2, new RegExp(`state file ${stateFile} is owned by uid ${OTHER_UID}.*--state FILE`));
    expect(await windowNames()).not.toContain('planted');
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(stateFile).equals(before)).toBe(true);
  });

  it('a state file others can write is refused, naming chmod', async () => {
    const cli = warden(server);
    expect((await cli.run(['spawn', 'w1', '--', ...LONG_RUNNING])).exitCode).toBe(0);
    chmodSync(cli.stateFile, 0o666);
    refused(await cli.run(['ls']), 2, new RegExp(`state file ${cli.stateFile} is writable by every user .*chmod 600`));
    chmodSync(cli.stateFile, 0o600);
    expect((await cli.run(['end', 'w1'])).exitCode).toBe(0);
  });

  it('a state directory others can write (like /tmp) or another user owns is refused before anything is read or written', async () => {
    const shared = join(server.dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const inShared = warden(server, join(shared, 'state.json'));
    refused(await inShared.run(['spawn', 'x', '--', ...LONG_RUNNING]), 2, new RegExp(`state directory ${shared} is writable by every user.*--state FILE`));
    expect(existsSync(join(shared, 'state.json'))).toBe(false);
    expect(await windowNames()).not.toContain('x');

    if (asRoot) {
      const theirs = join(server.dir, 'theirs');
      mkdirSync(theirs, { mode: 0o700 });
      chownSync(theirs, OTHER_UID, OTHER_UID);
      refused(await warden(server, join(theirs, 'state.json')).run(['ls']), 2, /state directory .*theirs is owned by uid 4242/);
    }
  });

  it.runIf(asRoot)('a config another user owns, or that others can write, is refused: its hook never runs', async () => {
    const dir = join(server.dir, 'cfg');
    mkdirSync(dir, { mode: 0o700 });
    const stateFile = join(dir, 'state.json');
    const ran = join(server.dir, 'hook-ran');
    const config = join(dir, 'warden.config.json');
    writeFileSync(config, JSON.stringify({ hooks: { '*': `touch ${ran}` } }));
    chownSync(config, OTHER_UID, OTHER_UID);
    const cli = warden(server, stateFile);
    refused(await cli.run(['spawn', 'c1', '--', ...LONG_RUNNING]), 2, new RegExp(`config ${config} is owned by uid ${OTHER_UID}.*not loaded`));
    expect(existsSync(ran)).toBe(false);
    expect(await windowNames()).not.toContain('c1');

    chownSync(config, process.getuid!(), process.getgid!());
    chmodSync(config, 0o646);
    refused(await cli.run(['ls']), 2, /config .* is writable by every user .*chmod go-w/);
    chmodSync(config, 0o600);
    expect((await cli.run(['spawn', 'c1', '--', ...LONG_RUNNING])).exitCode).toBe(0);
    expect((await cli.run(['end', 'c1'])).exitCode).toBe(0);
  });
});

describe('a symlinked state path (invariant 13)', () => {
  it('is written through: the link stays a link and its target holds every session, .bak beside the target', async () => {
    const real = join(server.dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const target = join(real, 'state.json');
    const link = join(server.dir, 'linked-state.json');
    symlinkSync(target, link); // dangling until the first write
    const cli = warden(server, link);
    expect((await cli.run(['spawn', 'l1', '--', ...LONG_RUNNING])).exitCode).toBe(0);
    expect((await cli.run(['spawn', 'l2', '--', ...LONG_RUNNING])).exitCode).toBe(0);

    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    const document = StateDocumentSchema.parse(JSON.parse(readFileSync(target, 'utf8')));
    expect(Object.keys(document.sessions).sort()).toEqual(['l1', 'l2']);
    expect(existsSync(`${target}.bak`)).toBe(true);
    expect(existsSync(`${link}.bak`)).toBe(false);
    for (const key of ['l1', 'l2']) expect((await cli.run(['end', key])).exitCode).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });
});

describe('secrets out of sight (invariant 15): --pass-env', () => {
  it('stores only the name; the value is read from the launching process at each launch, never written to state.json or .bak', async () => {
    const cli = warden(server);
    const out = join(server.dir, 'pass-env-seen');
    const program = ['sh', '-c', `printf '%s\\n' "$API_TOKEN" >> ${out}; exec sleep 600`];
    const first = await cli.run(['--json', 'spawn', 'secret', '--pass-env', 'API_TOKEN', '--resume-command', `sh -c 'printf "%s\\n" "$API_TOKEN" >> ${out}; exec sleep 600'`, '--', ...program], {
      env: { API_TOKEN: 'first-s3cret' },
    });
    expect(first.exitCode, first.stderr).toBe(0);
    await waitFor(() => existsSync(out) && readFileSync(out, 'utf8') === 'first-s3cret\n', 'the program to see the value');
    const stored = () => `${readFileSync(cli.stateFile, 'utf8')}${readFileSync(`${cli.stateFile}.bak`, 'utf8')}`;
    expect(stored()).not.toContain('first-s3cret');
    expect(StateDocumentSchema.parse(JSON.parse(readFileSync(cli.stateFile, 'utf8'))).sessions.secret!.snapshot.context.spec!.passEnv).toEqual(['API_TOKEN']);

    // Its window lost: a resume by a caller with another value passes that value.
    const info = JSON.parse(first.stdout) as { windowId: string };
    await server.tmux.run(['kill-window', '-t', info.windowId]);
    const resumed = await cli.run(['spawn', 'secret', '--mode', 'resume'], { env: { API_TOKEN: 'second-s3cret' } });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
    await waitFor(() => readFileSync(out, 'utf8') === 'first-s3cret\nsecond-s3cret\n', 'the resumed program to see the new value');
    expect(stored()).not.toMatch(/s3cret/);
    expect((await cli.run(['end', 'secret'])).exitCode).toBe(0);
    expect(stored()).not.toMatch(/s3cret/);
  });

  it('a name that is not set, or not a variable name, is refused (exit 2) before anything is stored', async () => {
    const cli = warden(server);
    refused(await cli.run(['spawn', 'nosecret', '--pass-env', 'NOT_SET_HERE', '--', ...LONG_RUNNING]), 2, /--pass-env NOT_SET_HERE: NOT_SET_HERE is not set in this environment/);
    refused(await cli.run(['spawn', 'nosecret', '--pass-env', 'A=B', '--', ...LONG_RUNNING]), 2, /--pass-env/);
    expect(cli.stateBytes()).toBeNull();
  });
});
