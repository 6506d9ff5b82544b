/**
 * Instant change detection for `watch`: a tmux control-mode client attached to the group reports
 * windows closing or appearing and sessions coming and going as they happen, and a `wait-for` on
 * the channel our windows' `pane-died` hook signals reports pane exits. Each one only says "look
 * now": the engine answers with one reconcile, so a missed or spurious notification costs at most
 * one probe, and polling stays as the fallback whenever no client is attached.
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { ControlClientProcess, Tmux } from './tmux.js';

/** Notifications after which what tmux shows may have changed for some session. */
const CHANGE_NOTIFICATIONS = new Set([
  '%window-close',
  '%unlinked-window-close',
  '%window-add',
  '%unlinked-window-add',
  '%sessions-changed',
  '%session-closed',
]);

/** How long a detached client may take to exit before it is killed. */
const EXIT_GRACE_MS = 1000;

/** Which kind of change a notification line reports, or null when it is not one we act on. */
export function changeOf(line: string): string | null {
  const name = line.split(' ', 1)[0] ?? '';
  return CHANGE_NOTIFICATIONS.has(name) ? name.slice(1) : null;
}

export class TmuxEvents {
  private client: ControlClientProcess | null = null;
  private exited: Promise<void> | null = null;
  private waiter: AbortController | null = null;
  private waiting: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly tmux: Tmux,
    private readonly group: string,
    /** Called for every change seen; `reason` names it (`window-close`, `pane-died`, `detached`). */
    private readonly onChange: (reason: string) => void,
  ) {}

  /** True while a control client is attached and reporting. */
  get connected(): boolean {
    return this.client !== null;
  }

  /**
   * Attaches a control client to the group; resolves true once tmux has accepted it, false when
   * it could not attach (no server, no such group yet): the caller keeps polling and retries later.
   */
  async connect(): Promise<boolean> {
    if (this.closed) return false;
    if (this.client) return true;
    const client = this.tmux.controlClient(this.group);
    const lines = createInterface({ input: client.stdout });
    const attached = new Promise<boolean>((resolve) => {
      // The reply to the attach itself is the first %begin/%end (or %error) block.
      lines.on('line', (line) => {
        if (line.startsWith('%end')) resolve(true);
        else if (line.startsWith('%error') || line.startsWith('%exit')) resolve(false);
        const change = changeOf(line);
        if (change && this.client === client) this.onChange(change);
      });
      lines.once('close', () => resolve(false));
    });
    this.client = client;
    this.exited = client.then(() => {
      lines.close();
      if (this.client !== client) return;
      this.client = null;
      void this.stopWaiter();
      if (!this.closed) this.onChange('detached');
    });
    if (!(await attached)) {
      await this.disconnect();
      return false;
    }
    this.startWaiter();
    return true;
  }

  /** Repeatedly waits on the pane-died channel; every wake-up is a change. */
  private startWaiter(): void {
    const waiter = new AbortController();
    this.waiter = waiter;
    this.waiting = (async () => {
      while (!waiter.signal.aborted) {
        try {
          await this.tmux.waitForPaneDeath({ signal: waiter.signal });
          if (!waiter.signal.aborted) this.onChange('pane-died');
        } catch {
          // The server went away (the control client reports that too) or we were stopped.
          if (waiter.signal.aborted) return;
          await delay(200, undefined, { signal: waiter.signal }).catch(() => undefined);
        }
      }
    })();
  }

  private stopWaiter(): Promise<void> {
    this.waiter?.abort();
    this.waiter = null;
    const waiting = this.waiting ?? Promise.resolve();
    this.waiting = null;
    return waiting;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    const exited = this.exited;
    this.client = null;
    const waiting = this.stopWaiter();
    if (!client) return waiting;
    // Closing stdin detaches a control client; a kill is the fallback if it does not go.
    client.stdin.end();
    const timer = setTimeout(() => client.kill('SIGKILL'), EXIT_GRACE_MS);
    try {
      await Promise.all([exited, waiting]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Detaches the control client and stops waiting; resolves when the tmux processes are gone. */
  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }
}
