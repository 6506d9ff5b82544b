/**
 * A session's output replayed through a headless terminal emulator (xterm.js), so a TUI agent's
 * log reads as its screen did: cursor movement, redraws and clears applied, not printed.
 *
 * The log may also hold screens warden saved before a kill, framed by two private OSC sequences
 * (which terminals ignore, so `cat` of the raw log shows the saved text). Replaying one, the
 * screen keeps it only when the piped output does not already end with what it shows: the pipe
 * usually has everything, and the saved screen is there for when it missed something.
 */
import xterm from '@xterm/headless';
import { SAVED_SCREEN_BEGIN, SAVED_SCREEN_END } from './saved-screen.js';

type Terminal = InstanceType<typeof xterm.Terminal>;
type Buffer_ = Terminal['buffer']['active'];

/** The size tmux gives the group session's windows when no client has resized them. */
export const DEFAULT_COLUMNS = 200;
export const DEFAULT_ROWS = 50;

export interface ScreenOptions {
  columns?: number;
  rows?: number;
  /** Lines kept above the screen; the oldest go first. */
  scrollback?: number;
}

export class LogScreen {
  readonly terminal: Terminal;
  private pendingSaved: Buffer[] | null = null;
  /** Where the lines `takeFinished` has returned end; moves as old lines leave the scrollback. */
  private finished: ReturnType<Terminal['registerMarker']> | null = null;

  constructor(options: ScreenOptions = {}) {
    this.terminal = new xterm.Terminal({
      cols: options.columns ?? DEFAULT_COLUMNS,
      rows: options.rows ?? DEFAULT_ROWS,
      scrollback: options.scrollback ?? 1000,
      allowProposedApi: true,
    });
  }

  /** Replays `bytes` (any split of the stream: frames may straddle calls). */
  async write(bytes: Buffer): Promise<void> {
    let rest = bytes;
    while (rest.length) {
      if (this.pendingSaved) {
        const end = rest.indexOf(SAVED_SCREEN_END);
        if (end < 0) {
          this.pendingSaved.push(rest);
          return;
        }
        this.pendingSaved.push(rest.subarray(0, end));
        const saved = Buffer.concat(this.pendingSaved).toString('utf8');
        this.pendingSaved = null;
        await this.replaySaved(saved);
        rest = rest.subarray(end + SAVED_SCREEN_END.length);
        continue;
      }
      const begin = rest.indexOf(SAVED_SCREEN_BEGIN);
      if (begin < 0) {
        await this.feed(rest);
        return;
      }
      await this.feed(rest.subarray(0, begin));
      this.pendingSaved = [];
      rest = rest.subarray(begin + SAVED_SCREEN_BEGIN.length);
    }
  }

  /** What the terminal shows and keeps: the normal buffer's lines, then the alternate screen while a TUI holds it. */
  lines(): string[] {
    const normal = trimBlankEnd(logicalLines(this.terminal.buffer.normal));
    if (this.terminal.buffer.active.type !== 'alternate') return normal;
    return trimBlankEnd([...normal, ...logicalLines(this.terminal.buffer.alternate)]);
  }

  /** The last `count` lines (all when undefined). */
  tail(count?: number): string[] {
    const lines = this.lines();
    return count === undefined ? lines : lines.slice(Math.max(0, lines.length - count));
  }

  /**
   * The lines finished since the last call: those the cursor has left (a program still drawing
   * on a line has not finished it). Nothing while a TUI holds the alternate screen.
   */
  takeFinished(): string[] {
    if (this.terminal.buffer.active.type === 'alternate') return [];
    const buffer = this.terminal.buffer.normal;
    const cursor = buffer.baseY + buffer.cursorY;
    const from = this.finished && !this.finished.isDisposed ? this.finished.line : 0;
    let end = cursor;
    while (end > from && buffer.getLine(end)?.isWrapped) end--;
    if (end <= from) return [];
    this.finished?.dispose();
    this.finished = this.terminal.registerMarker(end - cursor);
    return logicalLines(buffer, from, end);
  }

  dispose(): void {
    this.terminal.dispose();
  }

  /**
   * Replays bytes, except that a clear never loses output: a log is read for what the program
   * printed, and an agent that clears its screen when it starts (or is resumed) would otherwise
   * wipe everything before it. "Clear the screen" first scrolls the lines on it into the
   * scrollback, as tmux does with `scroll-on-clear`; "clear the scrollback" is dropped. On the
   * alternate screen (a full-screen TUI redrawing) a clear is what it says.
   */
  private async feed(bytes: Buffer): Promise<void> {
    let at = 0;
    for (const match of bytes.toString('latin1').matchAll(/\x1b\[([23])J/g)) {
      await this.replay(bytes.subarray(at, match.index));
      at = match.index + match[0].length;
      if (match[1] === '3') continue;
      await this.scrollScreenIntoHistory();
      await this.replay(bytes.subarray(match.index, at));
    }
    await this.replay(bytes.subarray(at));
  }

  private async scrollScreenIntoHistory(): Promise<void> {
    const buffer = this.terminal.buffer.active;
    if (buffer.type !== 'normal') return;
    let last = this.terminal.rows - 1;
    while (last >= 0 && !buffer.getLine(buffer.baseY + last)?.translateToString(true)) last--;
    if (last < 0) return;
    // Save the cursor, scroll the lines in use off the top from the bottom row, restore it.
    await this.replay(Buffer.from(`\x1b7\x1b[${this.terminal.rows};1H${'\n'.repeat(last + 1)}\x1b8`));
  }

  private replay(bytes: Buffer): Promise<void> {
    if (!bytes.length) return Promise.resolve();
    return new Promise((resolve) => this.terminal.write(bytes, resolve));
  }

  private async replaySaved(saved: string): Promise<void> {
    const savedLines = saved.split(/\r?\n/).map((l) => l.trimEnd()).filter(Boolean);
    if (savedLines.length === 0 || endsWith(this.lines().filter(Boolean), savedLines)) return;
    // The pipe missed output the pane showed: put the saved screen below what was replayed.
    if (this.terminal.buffer.active.type === 'alternate') await this.feed(Buffer.from('\x1b[?1049l'));
    const newLine = this.terminal.buffer.active.cursorX > 0 ? '\r\n' : '';
    await this.feed(Buffer.from(`${newLine}${savedLines.join('\r\n')}\r\n`));
  }
}

/** Whether the replayed lines end with the saved screen's last lines (up to a screen's worth). */
function endsWith(replayed: string[], saved: string[]): boolean {
  const wanted = saved.slice(-Math.min(saved.length, 5));
  const tail = replayed.slice(-wanted.length);
  return tail.length === wanted.length && tail.every((line, i) => line === wanted[i]);
}

/** A buffer's rows with soft-wrapped rows joined back into the lines the program wrote. */
function logicalLines(buffer: Buffer_, from = 0, to = buffer.length): string[] {
  const lines: string[] = [];
  for (let i = from; i < to; i++) {
    const line = buffer.getLine(i);
    if (!line) continue;
    const wrapsOn = i + 1 < to && (buffer.getLine(i + 1)?.isWrapped ?? false);
    const text = line.translateToString(!wrapsOn);
    if (line.isWrapped && i > from) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  return lines;
}

function trimBlankEnd(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end--;
  return lines.slice(0, end);
}

/** Renders a whole byte stream and returns its last `lines` lines (all when undefined). */
export async function renderLog(bytes: Buffer, options: ScreenOptions & { lines?: number } = {}): Promise<string[]> {
  const scrollback = options.scrollback ?? Math.max(options.lines ?? 0, 1000);
  const screen = new LogScreen({ ...options, scrollback });
  try {
    await screen.write(bytes);
    return screen.tail(options.lines);
  } finally {
    screen.dispose();
  }
}
