/**
 * The pane's screen and scrollback, saved into the log before a kill, framed by two private OSC
 * sequences: terminals ignore them (so `cat` of the raw log shows the saved text), and the
 * renderer recognises the frame (see screen.ts).
 */
export const SAVED_SCREEN_BEGIN = '\x1b]7777;warden-saved-screen\x07';
export const SAVED_SCREEN_END = '\x1b]7777;warden-saved-screen-end\x07';

/** tmux writes this on a dead pane's screen itself (remain-on-exit); it is not the program's output. */
export const DEAD_PANE_LINE = /^Pane is dead( \(|$)/;

/** A captured pane (capture-pane's text) framed for appending to a log; empty when nothing was on it. */
export function savedScreenBytes(captured: string): Buffer {
  const lines = captured.replace(/^\s*\n|\s+$/g, '').split('\n').filter((l) => !DEAD_PANE_LINE.test(l));
  if (lines.every((l) => l.trim() === '')) return Buffer.alloc(0);
  return Buffer.from(`${SAVED_SCREEN_BEGIN}\r\n${lines.join('\r\n')}\r\n${SAVED_SCREEN_END}`);
}
