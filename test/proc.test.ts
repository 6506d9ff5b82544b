/**
 * A process tmux has not reaped: its exit status is read from the kernel (Linux /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { zombieExitStatus } from '../src/proc.js';
import { waitFor } from './support/tmux-server.js';

const parents: ChildProcess[] = [];
afterEach(() => {
  for (const parent of parents.splice(0)) parent.kill('SIGKILL');
});

/**
 * Starts `then` in a child whose parent never reaps it; resolves with the child's pid. The child
 * first waits until its parent has become `sleep` (a shell would reap it before that).
 */
async function unreapedChild(then: string): Promise<number> {
  const child = `sh -c 'until grep -qx sleep /proc/$PPID/comm; do sleep 0.01; done; ${then}'`;
  const parent = spawn('sh', ['-c', `${child} & echo $!; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
  parents.push(parent);
  const line = await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
  return Number.parseInt(line, 10);
}

describe.runIf(existsSync('/proc/self/stat'))('zombieExitStatus: the exit status of a process nobody reaped', () => {
  it('reads the exit code of a zombie', async () => {
    const pid = await unreapedChild('exit 3');
    await waitFor(() => zombieExitStatus(pid) !== null, 'the child to exit');
    expect(zombieExitStatus(pid)).toBe(3);
  });

  it('reports a zombie killed by a signal as 128 + the signal', async () => {
    const pid = await unreapedChild('exec sleep 60');
    // Killed while still a shell, before its parent became `sleep`, the parent shell reaps it.
    await waitFor(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep', 'the child to become sleep');
    process.kill(pid, 'SIGTERM');
    await waitFor(() => zombieExitStatus(pid) !== null, 'the child to die');
    expect(zombieExitStatus(pid)).toBe(143);
  });

  it('says nothing of a process that is alive or gone', async () => {
    expect(zombieExitStatus(process.pid)).toBeNull();
    expect(zombieExitStatus(2 ** 22 + 1)).toBeNull();
  });
});
