/**
 * Git worktrees for sessions: `<repo>/.worktrees/<key>` on a new branch (`warden/<key>` unless
 * named) from a base, or the worktree already there for the branch. Removal is guarded: only
 * what warden made, only when nothing in it is uncommitted or missing from its base and
 * upstream, and a branch only when every commit on it is on another ref.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeContents, type WorktreeContents, type WorktreeEntry, type Workspaces } from '../engine/workspaces.js';
import { ConflictError, InvalidInputError, WardenError } from '../model/errors.js';
import type { Workspace, WorktreeDisposal, WorktreeRemoval, WorktreeRequest } from '../model/schema.js';
import { Git, type GitOptions } from './git.js';

/** Where worktrees go, relative to the repository's root, unless configured. */
export const DEFAULT_WORKTREE_DIR = '.worktrees';

export interface GitWorkspacesOptions extends GitOptions {
  /** The directory (relative to the repository's root) that holds the sessions' worktrees. */
  dir?: string | undefined;
}

interface ListedWorktree extends WorktreeEntry {
  head: string | null;
}

/** `git worktree list --porcelain`: blocks of `worktree PATH`, `HEAD SHA`, `branch REF` | `detached`. */
export function parseWorktreeList(text: string): ListedWorktree[] {
  const entries: ListedWorktree[] = [];
  for (const block of text.split(/\n\n+/)) {
    const lines = block.split('\n').filter(Boolean);
    const at = lines.find((l) => l.startsWith('worktree '));
    if (!at) continue;
    const branch = lines.find((l) => l.startsWith('branch '))?.slice('branch '.length) ?? null;
    entries.push({
      path: at.slice('worktree '.length),
      head: lines.find((l) => l.startsWith('HEAD '))?.slice('HEAD '.length) ?? null,
      branch: branch?.startsWith('refs/heads/') ? branch.slice('refs/heads/'.length) : branch,
    });
  }
  return entries;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

export class GitWorkspaces implements Workspaces {
  readonly dir: string;
  private readonly git: Git;

  constructor(options: GitWorkspacesOptions = {}) {
    this.git = new Git(options);
    this.dir = options.dir ?? DEFAULT_WORKTREE_DIR;
    if (path.isAbsolute(this.dir) || this.dir.split(/[\\/]/).includes('..')) {
      throw new InvalidInputError(`worktree directory ${JSON.stringify(this.dir)} must be relative to the repository, inside it (e.g. .worktrees)`);
    }
  }

  async plan(key: string, request: WorktreeRequest): Promise<Workspace> {
    const top = await this.git.run(request.repo, ['rev-parse', '--show-toplevel']);
    if (top.exitCode !== 0) {
      throw new InvalidInputError(`${request.repo} is not in a git repository: pass --repo with a repository's directory`);
    }
    const listed = await this.list(top.stdout.trim());
    // The main worktree (listed first) is the repository: worktrees of a worktree go beside it.
    const repo = listed[0]?.path ?? top.stdout.trim();
    const branch = request.branch ?? `warden/${key}`;
    const valid = await this.git.run(repo, ['check-ref-format', '--branch', branch]);
    if (branch.startsWith('-') || valid.exitCode !== 0) {
      throw new InvalidInputError(`--worktree ${JSON.stringify(branch)} is not a valid branch name: use e.g. --worktree fix/${key}`);
    }
    const base = request.base ?? (await this.headName(repo));
    if (base.startsWith('-') || (await this.git.run(repo, ['rev-parse', '--verify', '--quiet', `${base}^{commit}`])).exitCode !== 0) {
      throw new InvalidInputError(
        request.base === null
          ? `${repo} has no commit on ${base} yet: commit something first, or pass --base with a branch, tag or commit`
          : `--base ${JSON.stringify(base)} is not a commit in ${repo}: name a branch, tag or commit`,
      );
    }
    const existing = listed.find((w) => w.branch === branch);
    if (existing) {
      return { repo, path: existing.path, branch, base, created: false, newBranch: false, ready: false };
    }
    const where = path.join(repo, this.dir, key);
    const taken = listed.find((w) => w.path === where);
    if (taken) {
      throw new ConflictError(
        `${where} is already a worktree of ${taken.branch ?? 'a detached HEAD'}: pass --worktree ${taken.branch ?? 'BRANCH'} to use it, or remove it with 'git worktree remove ${where}'`,
      );
    }
    if (existsSync(where)) throw new ConflictError(`${where} exists and is not a worktree: move it away, then spawn again`);
    const newBranch = (await this.git.run(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])).exitCode !== 0;
    return { repo, path: where, branch, base, created: true, newBranch, ready: false };
  }

  async ensure(ws: Workspace, signal?: AbortSignal): Promise<void> {
    const there = (await this.list(ws.repo, signal)).find((w) => w.path === ws.path);
    if (there && existsSync(ws.path)) {
      if (there.branch === ws.branch) return;
      throw new ConflictError(`${ws.path} is a worktree of ${there.branch ?? 'a detached HEAD'}, not of ${ws.branch}: remove it or spawn with --worktree ${there.branch ?? 'BRANCH'}`);
    }
    if (!ws.created) {
      throw new WardenError('WORKTREE_FAILED', `the worktree of ${ws.branch} at ${ws.path} is gone: spawn with --mode fresh to make one`);
    }
    await this.excludeFromStatus(ws.repo, signal);
    const branchThere = (await this.git.run(ws.repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${ws.branch}`], signal)).exitCode === 0;
    // A branch planned as new that exists now was made by the run that crashed before recording the worktree.
    const args = branchThere ? ['worktree', 'add', ws.path, ws.branch] : ['worktree', 'add', '-b', ws.branch, ws.path, ws.base];
    await this.git.ok(ws.repo, args, signal);
  }

  async contents(ws: Workspace, signal?: AbortSignal): Promise<WorktreeContents> {
    const there = (await this.list(ws.repo, signal)).find((w) => w.path === ws.path);
    if (!there || !existsSync(ws.path)) return { exists: false, uncommitted: [], unpushed: [] };
    const uncommitted = lines(await this.git.ok(ws.path, ['status', '--porcelain=v1', '--untracked-files=all'], signal));
    const tips = [await this.git.ok(ws.path, ['rev-parse', 'HEAD'], signal).then((s) => s.trim())];
    if (ws.branch && (await this.refExists(ws.repo, `refs/heads/${ws.branch}`, signal))) tips.push(`refs/heads/${ws.branch}`);
    const elsewhere = await this.somebodyElses(ws, signal);
    const unpushed = lines(await this.git.ok(ws.repo, ['log', '--oneline', '--no-decorate', ...tips, '--not', ...elsewhere], signal));
    return { exists: true, uncommitted, unpushed };
  }

  async release(ws: Workspace, disposal: WorktreeDisposal, signal?: AbortSignal): Promise<WorktreeRemoval> {
    if (disposal === 'keep') return { removed: false, branchDeleted: false, kept: `${ws.path} kept as asked (--keep-worktree)` };
    if (!ws.created) return { removed: false, branchDeleted: false, kept: `${ws.path} was there before the session: left as it is` };
    const contents = await this.contents(ws, signal);
    if (contents.exists) {
      const work = describeContents(contents);
      if (disposal === 'guarded' && work) return { removed: false, branchDeleted: false, kept: `${ws.path} holds ${work}` };
      // git refuses a dirty worktree on its own too: a change made since the look above is kept.
      const removed = await this.git.run(ws.repo, ['worktree', 'remove', ...(disposal === 'discard' ? ['--force'] : []), ws.path], signal);
      if (removed.exitCode !== 0) {
        const said = removed.stderr.trim().split('\n').pop() ?? '';
        return { removed: false, branchDeleted: false, kept: `${ws.path} kept: git worktree remove said: ${said}` };
      }
    }
    const branch = await this.releaseBranch(ws, signal);
    return { removed: true, branchDeleted: branch.deleted, kept: branch.kept };
  }

  async listManaged(repo: string): Promise<WorktreeEntry[]> {
    const root = path.join(repo, this.dir) + path.sep;
    return (await this.list(repo)).filter((w) => w.path.startsWith(root)).map(({ path: p, branch }) => ({ path: p, branch }));
  }

  /** Deletes the branch warden made once every commit on it is on another branch, remote or tag. */
  private async releaseBranch(ws: Workspace, signal?: AbortSignal): Promise<{ deleted: boolean; kept: string | null }> {
    if (!ws.newBranch || !(await this.refExists(ws.repo, `refs/heads/${ws.branch}`, signal))) return { deleted: false, kept: null };
    const own = lines(
      await this.git.ok(ws.repo, ['log', '--oneline', '--no-decorate', `refs/heads/${ws.branch}`, '--not', `--exclude=${ws.branch}`, '--branches', '--remotes', '--tags'], signal),
    );
    if (own.length > 0) return { deleted: false, kept: `branch ${ws.branch} kept: ${own.length} commit(s) nobody else has (${own[0]})` };
    const deleted = await this.git.run(ws.repo, ['branch', '-D', ws.branch], signal);
    return deleted.exitCode === 0 ? { deleted: true, kept: null } : { deleted: false, kept: `branch ${ws.branch} kept: ${deleted.stderr.trim()}` };
  }

  /** The refs whose commits are somebody else's: the base and the branch's upstream; every other ref when the base is unknown. */
  private async somebodyElses(ws: Workspace, signal?: AbortSignal): Promise<string[]> {
    const upstream = await this.git.run(ws.repo, ['rev-parse', '--verify', '--quiet', '--symbolic-full-name', `${ws.branch}@{upstream}`], signal);
    const refs = upstream.exitCode === 0 && upstream.stdout.trim() ? [upstream.stdout.trim()] : [];
    if (ws.base && (await this.git.run(ws.repo, ['rev-parse', '--verify', '--quiet', `${ws.base}^{commit}`], signal)).exitCode === 0) {
      return [ws.base, ...refs];
    }
    return [...refs, ...(ws.branch ? [`--exclude=${ws.branch}`] : []), '--branches', '--remotes', '--tags'];
  }

  private async list(repo: string, signal?: AbortSignal): Promise<ListedWorktree[]> {
    return parseWorktreeList(await this.git.ok(repo, ['worktree', 'list', '--porcelain'], signal));
  }

  private async refExists(repo: string, ref: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.git.run(repo, ['rev-parse', '--verify', '--quiet', ref], signal)).exitCode === 0;
  }

  /** The branch HEAD is on (`main`), or its commit when detached. */
  private async headName(repo: string): Promise<string> {
    const named = await this.git.run(repo, ['symbolic-ref', '--short', '-q', 'HEAD']);
    if (named.exitCode === 0 && named.stdout.trim()) return named.stdout.trim();
    return (await this.git.run(repo, ['rev-parse', '--verify', '--quiet', 'HEAD'])).stdout.trim() || 'HEAD';
  }

  /** The worktree directory is listed in `.git/info/exclude`, so the main worktree's status stays clean. */
  private async excludeFromStatus(repo: string, signal?: AbortSignal): Promise<void> {
    const common = (await this.git.ok(repo, ['rev-parse', '--path-format=absolute', '--git-common-dir'], signal)).trim();
    const file = path.join(common, 'info', 'exclude');
    const line = `/${this.dir.split(path.sep).join('/').replace(/\/+$/, '')}/`;
    const current = await readFile(file, 'utf8').catch(() => '');
    if (current.split('\n').includes(line)) return;
    await mkdir(path.dirname(file), { recursive: true });
    await appendFile(file, `${current === '' || current.endsWith('\n') ? '' : '\n'}${line}\n`);
  }
}
