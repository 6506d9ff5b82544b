/**
 * The one way warden runs git: argv through execa, never a shell, with a timeout, the caller's
 * AbortSignal, no prompt, and none of the caller's `GIT_DIR`-style variables (a hook running
 * warden inside another repository must not redirect it).
 */
import { execa } from 'execa';
import { WardenError } from '../model/errors.js';

export interface GitOptions {
  /** The git binary; `git` on PATH by default. */
  bin?: string | undefined;
  timeoutMs?: number | undefined;
}

/** How one git call ended. */
export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const REDIRECTING = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_NAMESPACE'];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };
  for (const name of REDIRECTING) delete env[name];
  return env;
}

export class Git {
  readonly bin: string;
  private readonly timeoutMs: number;

  constructor(options: GitOptions = {}) {
    this.bin = options.bin ?? 'git';
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Runs `git -C dir ARGS`; resolves however it exited. Throws only when git did not run or answer. */
  async run(dir: string, args: string[], signal?: AbortSignal): Promise<GitResult> {
    try {
      const result = await execa(this.bin, ['-C', dir, ...args], {
        reject: false,
        env: gitEnv(),
        extendEnv: false,
        stdin: 'ignore',
        timeout: this.timeoutMs,
        cancelSignal: signal,
      });
      if (result.failed && result.exitCode === undefined) {
        const missing = (result as { code?: string }).code === 'ENOENT';
        throw new WardenError(
          'WORKTREE_FAILED',
          missing ? `${this.bin} not found: install git to use --worktree` : `git ${args[0]} did not finish: ${result.shortMessage}`,
        );
      }
      return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: result.exitCode ?? 1 };
    } catch (err) {
      if (err instanceof WardenError) throw err;
      throw new WardenError('WORKTREE_FAILED', `git ${args[0]} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Runs git and returns its stdout, throwing WORKTREE_FAILED (with git's stderr) on a non-zero exit. */
  async ok(dir: string, args: string[], signal?: AbortSignal): Promise<string> {
    const result = await this.run(dir, args, signal);
    if (result.exitCode !== 0) {
      const said = result.stderr.trim().split('\n').pop() ?? '';
      throw new WardenError('WORKTREE_FAILED', `git ${args.join(' ')} failed in ${dir}: ${said}`, { stderr: result.stderr });
    }
    return result.stdout;
  }
}
