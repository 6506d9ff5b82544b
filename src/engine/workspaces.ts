/**
 * The seam the engine reaches git worktrees through (`src/workspace/` implements it over git;
 * the composition root supplies it), and what the engine decides with it: which worktrees were
 * left behind by sessions that ended.
 */
import type { StateDocument, Workspace, WorktreeDisposal, WorktreeRemoval, WorktreeRequest } from '../model/schema.js';

/** What is in a worktree that nobody else has. */
export interface WorktreeContents {
  /** The worktree is there (registered with git and on disk). */
  exists: boolean;
  /** `git status --porcelain` lines: changed, staged and untracked files (ignored ones do not count). */
  uncommitted: string[];
  /** `git log --oneline` lines of commits not on the base nor on the branch's upstream. */
  unpushed: string[];
}

/** A worktree of a repository, as `git worktree list` shows it. */
export interface WorktreeEntry {
  path: string;
  /** Short branch name; null when detached. */
  branch: string | null;
}

export interface Workspaces {
  /**
   * Resolves a request into a plan: the repository root, the branch, the base, the path, and
   * whether warden makes the worktree (`created`) or uses the one already there for the branch.
   * Nothing is written. Throws InvalidInputError (not a repository, bad base or branch name) or
   * ConflictError (the path is taken by something else).
   */
  plan(key: string, request: WorktreeRequest): Promise<Workspace>;
  /** The workspace step of a launch: makes the planned worktree exist. Idempotent. */
  ensure(workspace: Workspace, signal?: AbortSignal): Promise<void>;
  /** What is in the worktree that nobody else has. */
  contents(workspace: Workspace, signal?: AbortSignal): Promise<WorktreeContents>;
  /**
   * The workspace step of a cleanup: removes the worktree if warden made it and `disposal` allows
   * (`guarded`: only when it holds nothing of its own), and its branch if warden made it and every
   * commit on it is on another ref. Idempotent.
   */
  release(workspace: Workspace, disposal: WorktreeDisposal, signal?: AbortSignal): Promise<WorktreeRemoval>;
  /** The worktrees of `repo` under its worktree directory (`.worktrees/` by default). */
  listManaged(repo: string): Promise<WorktreeEntry[]>;
}

/** A worktree under a repository's worktree directory that no session runs in. */
export interface StrayWorktree {
  repo: string;
  path: string;
  branch: string | null;
  /** The key whose session made it, when history knows. */
  key: string | null;
  /** What is in it that nobody else has (empty lists: nothing, safe to remove). */
  contents: WorktreeContents;
}

/**
 * Worktrees under the worktree directories of the repositories the state file's sessions use or
 * used (plus `extraRepos`) that no current session runs in: kept by an end, or left by a crash.
 */
export async function strayWorktrees(
  workspaces: Workspaces,
  document: Pick<StateDocument, 'sessions' | 'history'>,
  extraRepos: readonly string[] = [],
): Promise<StrayWorktree[]> {
  const inUse = new Set<string>();
  const repos = new Set(extraRepos);
  const keyOf = new Map<string, string>();
  const bases = new Map<string, string>();
  for (const h of document.history) {
    if (!h.worktree) continue;
    repos.add(h.worktree.repo);
    keyOf.set(h.worktree.path, h.key);
    bases.set(h.worktree.path, h.worktree.base);
  }
  for (const record of Object.values(document.sessions)) {
    const { workspace, next } = record.snapshot.context;
    for (const ws of [workspace, next?.workspace]) {
      if (!ws) continue;
      repos.add(ws.repo);
      inUse.add(ws.path);
    }
  }
  const found: StrayWorktree[] = [];
  for (const repo of repos) {
    let entries: WorktreeEntry[];
    try {
      entries = await workspaces.listManaged(repo);
    } catch {
      continue; // The repository is gone or is not one any more: nothing of ours to report there.
    }
    for (const entry of entries) {
      if (inUse.has(entry.path)) continue;
      // An unknown base ('') counts every other ref as somebody else's.
      const seen: Workspace = { repo, path: entry.path, branch: entry.branch ?? '', base: bases.get(entry.path) ?? '', created: true, newBranch: false, ready: true };
      const contents = await workspaces.contents(seen).catch(() => ({ exists: true, uncommitted: [], unpushed: [] }));
      found.push({ repo, path: entry.path, branch: entry.branch, key: keyOf.get(entry.path) ?? null, contents });
    }
  }
  return found;
}

/** One line saying what is in a worktree that nobody else has, or null when nothing is. */
export function describeContents(contents: WorktreeContents): string | null {
  const parts: string[] = [];
  if (contents.uncommitted.length > 0) {
    const files = contents.uncommitted.slice(0, 3).map((line) => line.slice(3)).join(', ');
    const more = contents.uncommitted.length > 3 ? ', …' : '';
    parts.push(`${contents.uncommitted.length} uncommitted change(s) (${files}${more})`);
  }
  if (contents.unpushed.length > 0) {
    const first = contents.unpushed[0]!;
    const more = contents.unpushed.length > 1 ? `, and ${contents.unpushed.length - 1} more` : '';
    parts.push(`${contents.unpushed.length} commit(s) on no other branch nor upstream (${first}${more})`);
  }
  return parts.length > 0 ? parts.join(' and ') : null;
}
