/**
 * Workspaces (DESIGN "Workspaces"; statechart rows spawning and "ending | cleanup steps (window,
 * then workspace)"): a git worktree per session, made before the window and released after it,
 * in temporary git repositories against a real tmux server. Removal is guarded: only what warden
 * made, only when nothing in it is uncommitted or missing from its base and upstream.
 */
import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HistoryEntrySchema, SessionInfoSchema } from '../src/model/schema.js';
import { parseWorktreeList } from '../src/workspace/worktrees.js';
import { LONG, readState, session, warden } from './support/cli.js';
import { tmuxWithFaultSwitch } from './support/fault-tmux.js';
import { persistedIn, spec, writeRecord } from './support/snapshots.js';
import { ownedWindows, useTmuxServer, waitFor } from './support/tmux-server.js';

const server = useTmuxServer('workspace');
const { tmux } = server;

const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await execa('git', ['-C', dir, ...args], { env: GIT_ENV })).stdout;
}

/** A new repository on `main` with one commit, in the test directory. */
async function newRepo(): Promise<string> {
  const dir = realpathSync(mkdtempSync(join(server.dir, 'repo-')));
  await git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README'), 'hello\n');
  await git(dir, 'add', 'README');
  await git(dir, 'commit', '-q', '-m', 'init');
  return dir;
}

async function worktreePaths(repo: string): Promise<string[]> {
  return (await git(repo, 'worktree', 'list', '--porcelain')).split('\n').filter((l) => l.startsWith('worktree ')).map((l) => l.slice(9));
}

async function branchExists(repo: string, branch: string): Promise<boolean> {
  return (await execa('git', ['-C', repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { reject: false })).exitCode === 0;
}

/** A program that writes where it runs, then stays up. */
const PWD_THEN_SLEEP = ['--', 'sh', '-c', 'pwd > "$WARDEN_KEY.where"; sleep 600'];

const GcSchema = z.object({
  dryRun: z.boolean(),
  sessions: z.array(SessionInfoSchema),
  failed: z.array(z.unknown()),
  keptWorktrees: z.array(z.object({ path: z.string(), branch: z.string().nullable(), key: z.string().nullable(), repo: z.string(), contents: z.unknown() })),
});

describe('spawn --worktree: workspace, then window', () => {
  it('creates <repo>/.worktrees/<key> on warden/<key> from the base and runs the session there', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const info = session(await w.run(['spawn', 'wt-new', '--json', '--worktree', '--repo', repo, ...PWD_THEN_SLEEP]));
    const path = join(repo, '.worktrees', 'wt-new');
    expect(info.worktree).toEqual({ path, branch: 'warden/wt-new', base: 'main', created: true });
    expect(info.cwd).toBe(path);
    expect(await worktreePaths(repo)).toEqual([repo, path]);
    expect(await git(path, 'rev-parse', 'HEAD')).toBe(await git(repo, 'rev-parse', 'main'));
    await waitFor(() => existsSync(join(path, 'wt-new.where')), 'the program to write where it runs');
    expect(readFileSync(join(path, 'wt-new.where'), 'utf8').trim()).toBe(path);
    // The worktree directory does not show in the repository's own status.
    expect(await git(repo, 'status', '--porcelain')).toBe('');
    const context = readState(w.stateFile).sessions['wt-new']!.snapshot.context;
    expect(context.workspace).toMatchObject({ path, created: true, newBranch: true, ready: true });

    const ls = await w.run(['ls']);
    expect(ls.stdout).toMatch(/^KEY\s+STATE\s+ACTIVITY\s+AGE\s+WINDOW\s+PID\s+EXIT\s+BRANCH\s+COMMAND\n/);
    expect(ls.stdout).toMatch(/wt-new\s+running\s.*\swarden\/wt-new\s+sh -c/);
    const status = await w.run(['status', 'wt-new']);
    expect(status.stdout).toContain(`worktree    ${path} (branch warden/wt-new from main, made by warden)`);
  });

  it('names the branch and the base: --worktree BRANCH --base REF', async () => {
    const repo = await newRepo();
    await git(repo, 'branch', 'release');
    await git(repo, 'commit', '-q', '--allow-empty', '-m', 'on main only');
    const w = warden(server);
    const info = session(await w.run(['spawn', 'named', '--json', '--worktree', 'fix/named', '--repo', repo, '--base', 'release', ...LONG]));
    expect(info.worktree).toMatchObject({ branch: 'fix/named', base: 'release', created: true });
    expect(await git(info.worktree!.path, 'rev-parse', 'HEAD')).toBe(await git(repo, 'rev-parse', 'release'));
  });

  it('reuses the worktree already there for the branch, recorded as not made by warden, and never removes it', async () => {
    const repo = await newRepo();
    const theirs = join(repo, '..', `${repo.split('/').pop()}-theirs`);
    await git(repo, 'worktree', 'add', '-q', '-b', 'feature', theirs);
    const w = warden(server);
    const info = session(await w.run(['spawn', 'reuser', '--json', '--worktree', 'feature', '--repo', repo, ...LONG]));
    expect(info.worktree).toEqual({ path: theirs, branch: 'feature', base: 'main', created: false });
    expect(info.cwd).toBe(theirs);
    expect(await worktreePaths(repo)).toEqual([repo, theirs]);

    const ended = await w.run(['end', 'reuser']);
    expect(ended.exitCode).toBe(0);
    expect(ended.stderr).toMatch(/^warden: .*theirs was there before the session: left as it is\n$/);
    expect(await worktreePaths(repo)).toEqual([repo, theirs]);
    expect(await branchExists(repo, 'feature')).toBe(true);
  });

  it('refuses what cannot be planned, with exit 2 and nothing stored: not a repository, a bad base, --repo alone', async () => {
    const w = warden(server);
    const notRepo = mkdtempSync(join(server.dir, 'plain-'));
    const a = await w.run(['spawn', 'nope', '--worktree', '--repo', notRepo, ...LONG]);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toMatch(/^warden: .* is not in a git repository: pass --repo/);
    const repo = await newRepo();
    const b = await w.run(['spawn', 'nope', '--worktree', '--repo', repo, '--base', 'no-such-ref', ...LONG]);
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toMatch(/--base "no-such-ref" is not a commit/);
    const c = await w.run(['spawn', 'nope', '--repo', repo, ...LONG]);
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toMatch(/--repo and --base go with --worktree/);
    expect(w.stateBytes()).toBeNull();
    expect(await worktreePaths(repo)).toEqual([repo]);
  });

  it('says what to do in a repository without a commit yet (exit 2, nothing made)', async () => {
    const empty = realpathSync(mkdtempSync(join(server.dir, 'empty-')));
    await git(empty, 'init', '-q', '-b', 'main');
    const w = warden(server);
    const result = await w.run(['spawn', 'unborn', '--worktree', '--repo', empty, ...LONG]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^warden: .* has no commit on main yet: commit something first, or pass --base/);
    expect(w.stateBytes()).toBeNull();
  });

  it('runs two sessions on two worktrees of one repository, started at once, and ends one without touching the other', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const [one, two] = await Promise.all([
      w.run(['spawn', 'pair-1', '--json', '--worktree', '--repo', repo, ...LONG]),
      w.run(['spawn', 'pair-2', '--json', '--worktree', '--repo', repo, ...LONG]),
    ]);
    const a = session(one);
    const b = session(two);
    expect(a.worktree!.path).not.toBe(b.worktree!.path);
    expect((await worktreePaths(repo)).sort()).toEqual([repo, a.worktree!.path, b.worktree!.path].sort());
    expect((await w.run(['end', 'pair-1'])).exitCode).toBe(0);
    expect(await worktreePaths(repo)).toEqual([repo, b.worktree!.path]);
    expect(await ownedWindows(tmux, b.sessionId!)).toEqual([b.windowId]);
    expect(await branchExists(repo, 'warden/pair-2')).toBe(true);
    expect(await branchExists(repo, 'warden/pair-1')).toBe(false);
  });

  it('keeps the worktree, and what is in it, across a fresh restart of the key', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const first = session(await w.run(['spawn', 'again', '--json', '--worktree', '--repo', repo, ...LONG]));
    writeFileSync(join(first.worktree!.path, 'work.txt'), 'in progress\n');
    const second = session(await w.run(['spawn', 'again', '--json', '--mode', 'fresh']));
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.worktree).toEqual(first.worktree);
    expect(readFileSync(join(first.worktree!.path, 'work.txt'), 'utf8')).toBe('in progress\n');
    // Still warden's: a clean end after the restart removes it.
    await git(first.worktree!.path, 'stash', '-u', '-q');
    await git(repo, 'stash', 'drop', '-q');
    expect((await w.run(['end', 'again'])).exitCode).toBe(0);
    expect(await worktreePaths(repo)).toEqual([repo]);
  });

  it('a fresh restart into a worktree runs there even when the directory it ran in is gone', async () => {
    const repo = await newRepo();
    const gone = mkdtempSync(join(server.dir, 'gone-'));
    const w = warden(server);
    session(await w.run(['spawn', 'moved', '--json', '--cwd', gone, ...PWD_THEN_SLEEP]));
    rmSync(gone, { recursive: true, force: true });
    const restarted = session(await w.run(['spawn', 'moved', '--json', '--mode', 'fresh', '--worktree', '--repo', repo]));
    expect(restarted).toMatchObject({ state: 'active', cwd: join(repo, '.worktrees', 'moved') });
    await waitFor(() => readFileSync(join(repo, '.worktrees', 'moved', 'moved.where'), 'utf8').trim() === join(repo, '.worktrees', 'moved'), 'the session to run in its worktree');
  });
});

describe('end: window, then the worktree, guarded', () => {
  it('removes a clean worktree warden made, and its branch whose commits are all elsewhere', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const info = session(await w.run(['spawn', 'clean', '--json', '--worktree', '--repo', repo, ...LONG]));
    const ended = await w.run(['end', 'clean']);
    expect(ended).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
    expect(existsSync(info.worktree!.path)).toBe(false);
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(await branchExists(repo, 'warden/clean')).toBe(false);
    const [entry] = z.object({ history: z.array(HistoryEntrySchema) }).parse(JSON.parse((await w.run(['history', 'clean', '--json'])).stdout)).history;
    expect(entry!.worktree).toMatchObject({ path: info.worktree!.path, removal: { removed: true, branchDeleted: true, kept: null } });
  });

  it('keeps a worktree with uncommitted changes, says what is in it, exits 3; gc and doctor report it', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const info = session(await w.run(['spawn', 'dirty', '--json', '--worktree', '--repo', repo, ...LONG]));
    writeFileSync(join(info.worktree!.path, 'notes.md'), 'precious\n');
    const ended = await w.run(['end', 'dirty']);
    expect(ended.exitCode).toBe(3);
    expect(ended.stdout).toBe('');
    expect(ended.stderr).toMatch(/^warden: dirty ended, but its worktree is kept: .* holds 1 uncommitted change\(s\) \(notes\.md\): commit and push/);
    expect(ended.stderr.split('\n')).toHaveLength(2);
    // The session is over (window gone, record removed); the work is where it was.
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
    expect(readState(w.stateFile).sessions.dirty).toBeUndefined();
    expect(readFileSync(join(info.worktree!.path, 'notes.md'), 'utf8')).toBe('precious\n');
    expect(await branchExists(repo, 'warden/dirty')).toBe(true);

    const gc = GcSchema.parse(JSON.parse((await w.run(['gc', '--json'])).stdout));
    expect(gc.keptWorktrees).toEqual([expect.objectContaining({ path: info.worktree!.path, branch: 'warden/dirty', key: 'dirty' })]);
    const doctor = await w.run(['doctor']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toContain(`worktree ${info.worktree!.path} (left by session dirty) has no session and holds 1 uncommitted change(s) (notes.md)`);
  });

  it('keeps a worktree whose branch has commits not on its base nor upstream (exit 3), removes it once they are pushed', async () => {
    const repo = await newRepo();
    const remote = realpathSync(mkdtempSync(join(server.dir, 'remote-')));
    await git(remote, 'init', '-q', '--bare');
    await git(repo, 'remote', 'add', 'origin', remote);
    const w = warden(server);
    const info = session(await w.run(['spawn', 'ahead', '--json', '--worktree', '--repo', repo, ...LONG]));
    const path = info.worktree!.path;
    writeFileSync(join(path, 'feature.txt'), 'done\n');
    await git(path, 'add', 'feature.txt');
    await git(path, 'commit', '-q', '-m', 'the feature');
    const ended = await w.run(['end', 'ahead']);
    expect(ended.exitCode).toBe(3);
    expect(ended.stderr).toMatch(/holds 1 commit\(s\) on no other branch nor upstream \([0-9a-f]+ the feature\)/);
    expect(await worktreePaths(repo)).toEqual([repo, path]);

    // Pushed to its upstream, a commit is somebody else's too: the worktree and the branch go.
    const pushed = session(await w.run(['spawn', 'pushed', '--json', '--worktree', '--repo', repo, ...LONG]));
    await git(pushed.worktree!.path, 'commit', '-q', '--allow-empty', '-m', 'shared');
    await git(pushed.worktree!.path, 'push', '-q', '-u', 'origin', 'warden/pushed');
    expect(await w.run(['end', 'pushed'])).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await worktreePaths(repo)).toEqual([repo, path]);
    expect(await branchExists(repo, 'warden/pushed')).toBe(false);
  });

  it('--discard removes a dirty worktree anyway but keeps a branch with commits nobody else has; --keep-worktree never removes', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const info = session(await w.run(['spawn', 'discarded', '--json', '--worktree', '--repo', repo, ...LONG]));
    const path = info.worktree!.path;
    writeFileSync(join(path, 'scratch.txt'), 'throwaway\n');
    await git(path, 'commit', '-q', '--allow-empty', '-m', 'only here');
    const ended = await w.run(['end', 'discarded', '--discard']);
    expect(ended.exitCode).toBe(0);
    expect(ended.stderr).toMatch(/^warden: branch warden\/discarded kept: 1 commit\(s\) nobody else has/);
    expect(existsSync(path)).toBe(false);
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(await branchExists(repo, 'warden/discarded')).toBe(true);

    const kept = session(await w.run(['spawn', 'keeper', '--json', '--worktree', '--repo', repo, ...LONG]));
    const keptEnd = await w.run(['end', 'keeper', '--keep-worktree']);
    expect(keptEnd.exitCode).toBe(0);
    expect(keptEnd.stderr).toMatch(/kept as asked \(--keep-worktree\)/);
    expect(await worktreePaths(repo)).toEqual([repo, kept.worktree!.path]);

    const both = await w.run(['end', 'keeper', '--discard', '--keep-worktree']);
    expect(both.exitCode).toBe(2);
  });
});

describe('spawning → normal: a launch that fails after the worktree was made rolls it back', () => {
  it('removes the worktree and the branch it made when tmux cannot create the window', async () => {
    const repo = await newRepo();
    const faults = tmuxWithFaultSwitch(server.dir);
    const engine = await server.engine({ tmuxBin: faults.bin, group: 'rollback' });
    faults.fail('new-window', 'new-session');
    try {
      await expect(engine.spawn('no-window', { command: LONG.slice(1), worktree: { repo } })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    } finally {
      faults.heal();
    }
    expect(engine.get('no-window')).toBeUndefined();
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(existsSync(join(repo, '.worktrees', 'no-window'))).toBe(false);
    expect(await branchExists(repo, 'warden/no-window')).toBe(false);
    const [entry] = await engine.history('no-window');
    expect(entry).toMatchObject({ reason: 'spawn-failed', worktree: { path: join(repo, '.worktrees', 'no-window'), created: true } });
  });
});

/**
 * A git that runs the real one, then SIGKILLs the warden that ran it right after the call that
 * matches `pattern`: the process dies exactly between two steps.
 */
function gitKillingCaller(pattern: string): string {
  const dir = mkdtempSync(join(server.dir, 'git-'));
  const real = execaSyncPath('git');
  writeFileSync(
    join(dir, 'git'),
    `#!/bin/sh\n"${real}" "$@"\nstatus=$?\ncase " $* " in\n  *"${pattern}"*) kill -9 $PPID ;;\nesac\nexit $status\n`,
  );
  chmodSync(join(dir, 'git'), 0o755);
  return dir;
}

function execaSyncPath(bin: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  throw new Error(`${bin} not on PATH`);
}

describe('a crash between the steps converges on the next reconcile', () => {
  it('SIGKILL after the worktree is made, before the window: the next ls brings the session up in it, once', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const killer = gitKillingCaller(' worktree add ');
    const killed = await w.run(['spawn', 'crash-up', '--worktree', '--repo', repo, ...LONG], { env: { PATH: `${killer}:${process.env.PATH}` } });
    expect(killed.exitCode).not.toBe(0);
    const path = join(repo, '.worktrees', 'crash-up');
    expect(await worktreePaths(repo)).toEqual([repo, path]);
    const left = readState(w.stateFile).sessions['crash-up']!.snapshot;
    expect(left.value).toBe('spawning');
    expect(left.context.workspace).toMatchObject({ path, ready: false, created: true });

    const ls = await w.run(['ls', '--json']);
    expect(ls.exitCode).toBe(0);
    const info = session(await w.run(['status', 'crash-up', '--json']));
    expect(info).toMatchObject({ state: 'active', worktree: { path, created: true }, cwd: path });
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([info.windowId]);
    expect(await worktreePaths(repo)).toEqual([repo, path]);
    expect(readState(w.stateFile).sessions['crash-up']!.snapshot.context.workspace).toMatchObject({ ready: true });
  });

  it('SIGKILL after the window is gone, before the worktree is released: the next ls finishes the cleanup', async () => {
    const repo = await newRepo();
    const w = warden(server);
    const info = session(await w.run(['spawn', 'crash-down', '--json', '--worktree', '--repo', repo, ...LONG]));
    const killer = gitKillingCaller(' status --porcelain');
    const killed = await w.run(['end', 'crash-down'], { env: { PATH: `${killer}:${process.env.PATH}` } });
    expect(killed.exitCode).not.toBe(0);
    expect(await ownedWindows(tmux, info.sessionId!)).toEqual([]);
    const left = readState(w.stateFile).sessions['crash-down']!.snapshot;
    expect(left.value).toBe('ending');
    // The window step's result was durable before the workspace step began.
    expect(left.context.windowId).toBeNull();
    expect(await worktreePaths(repo)).toEqual([repo, info.worktree!.path]);

    expect((await w.run(['ls'])).exitCode).toBe(0);
    expect(readState(w.stateFile).sessions['crash-down']).toBeUndefined();
    expect(await worktreePaths(repo)).toEqual([repo]);
    expect(await branchExists(repo, 'warden/crash-down')).toBe(false);
  });
});

describe('records written before worktrees existed', () => {
  it('load without a version bump: no workspace in context, no worktree in the spec, worktree null, and end works', async () => {
    const w = warden(server);
    const window = await tmux.launchWindow({ group: 'warden', name: 'old-timer', sessionId: 'old-id', command: ['sleep', '600'] });
    const snapshot = await persistedIn('active.running', 'old-timer', spec(['sleep', '600']), 'old-id', { ...window, dead: false, exitStatus: null });
    const context = snapshot.context as Record<string, unknown>;
    delete context.workspace;
    delete (context.spec as Record<string, unknown>).worktree;
    await writeRecord(w.stateFile, 'old-timer', snapshot, null);
    expect(JSON.stringify(readState(w.stateFile).sessions['old-timer'])).not.toContain('worktree');

    const info = session(await w.run(['status', 'old-timer', '--json']));
    expect(info).toMatchObject({ state: 'active', worktree: null });
    expect(await w.run(['end', 'old-timer'])).toMatchObject({ exitCode: 0, stderr: '' });
    expect(await ownedWindows(tmux, 'old-id')).toEqual([]);
  });
});

describe('git worktree list --porcelain', () => {
  it('is read into path and short branch, detached as null', () => {
    const text = 'worktree /r\nHEAD 1111\nbranch refs/heads/main\n\nworktree /r/.worktrees/a b\nHEAD 2222\ndetached\n\nworktree /r/.worktrees/c\nHEAD 3333\nbranch refs/heads/warden/c\nlocked\n';
    expect(parseWorktreeList(text)).toEqual([
      { path: '/r', head: '1111', branch: 'main' },
      { path: '/r/.worktrees/a b', head: '2222', branch: null },
      { path: '/r/.worktrees/c', head: '3333', branch: 'warden/c' },
    ]);
  });
});
