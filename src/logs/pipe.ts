/**
 * The command tmux's `pipe-pane` runs for a session: it appends the pane's output to the log and
 * rotates the log at its cap. No resident process heavier than `cat`: a POSIX shell waiting on
 * `head -c ROOM`, which copies at most the room left in the file, then exits; the shell renames
 * the full file to `.1` (shifting older ones, dropping the oldest) and starts the next `head`.
 * tmux closing the pipe (the pane or the server gone, the pipe replaced) ends both.
 *
 * `head` runs under `stdbuf -o0` (GNU coreutils): its stdio would otherwise hold up to a few KiB
 * of output until it exits, and `logs` of a running session would miss its latest lines. GNU
 * `head -c` reads no further than it copies, so a rotation loses nothing. Where there is no
 * `stdbuf` (macOS, busybox), the pipe is a plain `cat >>` and the log has no cap.
 *
 * What rotation can lose: the oldest file when a new one is due (that is the cap). A file can
 * pass its cap by what warden appends beside the pipe (the screen saved before a kill). A respawn
 * replaces the pipe (tmux keeps it across `respawn-pane`, and `pipe-pane -o` would close it
 * instead): output tmux has not yet written to the old pipe when it is replaced is lost.
 */
import type { LogSettings } from '../model/log-settings.js';

const ROTATING_APPEND = [
  'umask 077',
  'f=$1 max=$2 keep=$3',
  'command -v stdbuf >/dev/null 2>&1 || exec cat >>"$f"',
  'while :; do',
  '  size=0; [ -f "$f" ] && size=$(wc -c <"$f")',
  '  if [ "$size" -ge "$max" ]; then',
  '    i=$((keep - 1))',
  '    while [ "$i" -gt 1 ]; do mv -f "$f.$((i - 1))" "$f.$i" 2>/dev/null; i=$((i - 1)); done',
  '    if [ "$keep" -gt 1 ]; then mv -f "$f" "$f.1"; else rm -f "$f"; fi',
  '    size=0',
  '  fi',
  '  room=$((max - size))',
  '  stdbuf -o0 head -c "$room" >>"$f" || exit 0',
  // Less than the room copied means head met the end of its input: tmux closed the pipe.
  '  [ $(($(wc -c <"$f") - size)) -lt "$room" ] && exit 0',
  'done',
].join('\n');

/** The argv of the pipe process for `logFile`; tmux runs it through `sh -c` (quote it as one command). */
export function logPipeArgv(logFile: string, settings: Pick<LogSettings, 'maxFileSize' | 'maxFiles'>): string[] {
  return ['sh', '-c', ROTATING_APPEND, 'warden-log', logFile, String(settings.maxFileSize), String(settings.maxFiles)];
}
