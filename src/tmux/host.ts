/**
 * What the kernel of this host knows about a process, read where tmux cannot say: whether it
 * lives, when it started, and the exit status of a zombie. tmux 3.3a can mark a pane dead (its
 * output closed) and then never reap the process, so `pane_dead_status` stays empty forever while
 * the process waits as a zombie; its wait status is still in /proc (Linux ≥ 3.5).
 */
import { lstatSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat from field 3 (state) on, or null when /proc cannot say. */
function statFields(pid: number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself hold spaces or parentheses.
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/**
 * The exit status of `pid` if it is a zombie: its exit code, or 128 + the signal that killed it,
 * as a shell reports it. Null when the process is not a zombie or /proc cannot say (not Linux).
 */
export function zombieExitStatus(pid: number): number | null {
  const fields = statFields(pid);
  // fields[0] is field 3 (state); field 52 (exit_code, a waitpid status) is fields[49].
  if (fields?.[0] !== 'Z' || fields.length < 50) return null;
  const wait = Number.parseInt(fields[49]!, 10);
  if (!Number.isFinite(wait)) return null;
  const signal = wait & 0x7f;
  return signal === 0 ? (wait >> 8) & 0xff : 128 + signal;
}

/**
 * When a process started, as the kernel counts it: clock ticks since boot (stat field 22) and
 * the boot they count from. A pid is reused, a pid with its start time is not: together they
 * name one process for as long as the machine runs.
 */
export interface ProcessStart {
  bootId: string;
  startTicks: number;
}

let bootId: string | null | undefined;
function currentBootId(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

/** The start of process `pid`, or null when it is gone or /proc cannot say (not Linux). */
export function processStartTime(pid: number): ProcessStart | null {
  const boot = currentBootId();
  // fields[0] is field 3, so field 22 (starttime) is fields[19].
  const ticks = Number.parseInt(statFields(pid)?.[19] ?? '', 10);
  if (boot === null || !Number.isFinite(ticks)) return null;
  return { bootId: boot, startTicks: ticks };
}

/**
 * Whether process `pid` exists (a zombie still does); one of another user counts as existing.
 * Given the start it was seen with, a process that since ended and left its pid to another one
 * is not alive; a start that cannot be read again (not Linux) trusts the pid alone.
 */
export function processAlive(pid: number, start?: ProcessStart | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!start) return true;
  const now = processStartTime(pid);
  return now === null || (now.bootId === start.bootId && now.startTicks === start.startTicks);
}

/**
 * The scheduler state of `pid` as /proc shows it (`R`, `S`, `T` stopped, `Z` zombie …), or null
 * when it is gone or /proc cannot say.
 */
export function processState(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

/** The argv of process `pid` as /proc shows it (readable by any local user), or null. */
export function processArgv(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` has ended: a zombie, or gone. Cheap (one /proc read, one signal 0), so
 * `watch` can ask it of every running pane often.
 */
export function processEnded(pid: number): boolean {
  return zombieExitStatus(pid) !== null || !processAlive(pid);
}

/** Whether a file (a tmux socket) exists at `path`, without following a final symlink. */
export function pathExists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}
