/**
 * What the kernel knows about a pane's process when tmux has not said. tmux 3.3a can mark a pane
 * dead (its output closed) and then never reap the process, so `pane_dead_status` stays empty
 * forever while the process waits as a zombie; its wait status is still in /proc (Linux ≥ 3.5).
 */
import { readFileSync } from 'node:fs';

/**
 * The exit status of `pid` if it is a zombie: its exit code, or 128 + the signal that killed it,
 * as a shell reports it. Null when the process is not a zombie or /proc cannot say (not Linux).
 */
export function zombieExitStatus(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself hold spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  // fields[0] is field 3 (state); field 52 (exit_code, a waitpid status) is fields[49].
  if (fields[0] !== 'Z' || fields.length < 50) return null;
  const wait = Number.parseInt(fields[49]!, 10);
  if (!Number.isFinite(wait)) return null;
  const signal = wait & 0x7f;
  return signal === 0 ? (wait >> 8) & 0xff : 128 + signal;
}

/** Whether process `pid` exists (a zombie still does); one of another user counts as existing. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether process `pid` has ended: a zombie, or gone. Cheap (one /proc read, one signal 0), so
 * `watch` can ask it of every running pane often.
 */
export function processEnded(pid: number): boolean {
  return zombieExitStatus(pid) !== null || !processAlive(pid);
}
