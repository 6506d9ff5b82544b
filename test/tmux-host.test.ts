/**
 * A process named by pid and start time: alive only while that very process runs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processAlive, processEnded, processStartTime } from '../src/tmux/host.js';

describe.runIf(existsSync('/proc/self/stat'))('processStartTime: pid + start time + boot id name one process', () => {
  it('reads this process, the same on every read', () => {
    const start = processStartTime(process.pid);
    expect(start).toEqual({ bootId: expect.stringMatching(/^[0-9a-f-]{36}$/), startTicks: expect.any(Number) });
    expect(processStartTime(process.pid)).toEqual(start);
    expect(processStartTime(2 ** 22 + 1)).toBeNull();
  });

  it('says a process is not alive once its pid holds another start, or it is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = child.pid!;
    const start = processStartTime(pid)!;
    expect(processAlive(pid, start)).toBe(true);
    expect(processAlive(pid, { ...start, startTicks: start.startTicks - 1 })).toBe(false);
    expect(processAlive(pid, { ...start, bootId: 'another-boot' })).toBe(false);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(processAlive(pid, start)).toBe(false);
    expect(processEnded(pid)).toBe(true);
  });
});
