/**
 * Fault injection for tests: with `WARDEN_TEST_PAUSE=<point>`, the process stops itself (SIGSTOP)
 * the first time it reaches that point, as a Ctrl-Z or a VM pause would stop it there; SIGCONT
 * resumes it. Points: `before-replace` (the state lock re-checked, the file not yet replaced),
 * `after-replace` (the new file in place, nothing after it done yet), `before-launch` (a spawn's
 * `spawning` record durable, tmux not yet asked).
 */
export function pausePoint(point: 'before-replace' | 'after-replace' | 'before-launch'): void {
  if (process.env.WARDEN_TEST_PAUSE !== point) return;
  delete process.env.WARDEN_TEST_PAUSE;
  process.kill(process.pid, 'SIGSTOP');
}
