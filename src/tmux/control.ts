/**
 * Hearing tmux as things happen: a control-mode client attached to the group reports windows
 * closing or appearing and sessions coming and going, and a `wait-for` on the channel our
 * windows' `pane-died` hook signals reports pane exits. Each arrives as a typed notification with
 * its data. `TmuxEvents` also reduces them to "look now" reasons: the engine answers each with
 * one reconcile, so a missed or spurious one costs at most one probe, and polling stays as the
 * fallback whenever no client is attached.
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { Tmux } from './commands.js';
import { PANE_DIED_CHANNEL } from './formats.js';
import { parseControlLine, type ControlBlock, type ControlNotification, type ControlNotificationType } from './notifications.js';
import type { ControlClientProcess } from './transport.js';

export { parseControlLine, unescapeOutput, type ControlBlock, type ControlNotification, type ControlNotificationType } from './notifications.js';

/** Notifications after which what tmux shows may have changed for some session. */
const CHANGES: ReadonlySet<ControlNotificationType> = new Set<ControlNotificationType>([
  'window-close',
  'unlinked-window-close',
  'window-add',
  'unlinked-window-add',
  'sessions-changed',
]);

/** How long a detached client may take to exit before it is killed. */
const EXIT_GRACE_MS = 1000;

/** Which kind of change a notification line reports, or null when it is not one we act on. */
export function changeOf(line: string): string | null {
  const type = parseControlLine(line)?.type;
  return type !== undefined && CHANGES.has(type) ? type : null;
}

export type NotificationListener = (notification: ControlNotification) => void;

/**
 * One control-mode client: every line it prints becomes a notification, a command reply's body
 * gathered into the `end`/`error` that closes it. `attached` says whether tmux accepted it.
 */
export class ControlClient {
  readonly attached: Promise<boolean>;
  /** Settles once the client's process is gone and its last line was read. */
  readonly exited: Promise<void>;
  private readonly process: ControlClientProcess;

  constructor(tmux: Tmux, group: string, listener: NotificationListener, flags?: string) {
    this.process = tmux.controlClient(group, flags);
    const lines = createInterface({ input: this.process.stdout });
    let reply: ControlBlock | null = null;
    this.attached = new Promise<boolean>((resolve) => {
      lines.on('line', (line) => {
        const notification = parseControlLine(line);
        const closesReply = (notification?.type === 'end' || notification?.type === 'error') && notification.number === reply?.number;
        if (reply && !closesReply) {
          reply.lines.push(line);
          return;
        }
        if (!notification) return;
        if (notification.type === 'begin') reply = notification;
        else if (closesReply) {
          notification.lines = reply!.lines;
          reply = null;
        }
        // The reply to the attach itself is the first %begin/%end (or %error) block.
        if (notification.type === 'end') resolve(true);
        else if (notification.type === 'error' || notification.type === 'exit') resolve(false);
        listener(notification);
      });
      lines.once('close', () => resolve(false));
    });
    this.exited = this.process.exited.then(() => lines.close());
  }

  /** Sends one tmux command line on the client's stdin (its reply arrives as a `begin`/`end` block). */
  send(command: string): void {
    this.process.stdin.write(`${command}\n`);
  }

  /** Detaches (closes the client's stdin), killing it if it has not gone within a grace period. */
  async detach(): Promise<void> {
    this.process.stdin.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), EXIT_GRACE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export class TmuxEvents {
  private client: ControlClient | null = null;
  private waiter: AbortController | null = null;
  private waiting: Promise<void> | null = null;
  private closed = false;
  private readonly listeners = new Set<NotificationListener>();
  /** Format subscriptions (`refresh-client -B`), set on every client this attaches. */
  private readonly subscriptions = new Map<string, string>();

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
   * Asks tmux to report `format` of every pane (`%*`) of the group whenever it changes, as a
   * `subscription-changed` notification named `name` (tmux ≥ 3.2 checks about once a second).
   * It costs this process nothing while nothing changes.
   */
  subscribe(name: string, format: string): void {
    this.subscriptions.set(name, `${name}:%*:${format}`);
    this.client?.send(`refresh-client -B '${name}:%*:${format}'`);
  }

  /** Hears every notification, with its data, while a client is attached; returns the unsubscribe. */
  onNotification(listener: NotificationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(notification: ControlNotification): void {
    for (const listener of this.listeners) listener(notification);
    if (notification.type === 'pane-died' || notification.type === 'detached' || CHANGES.has(notification.type)) {
      this.onChange(notification.type);
    }
  }

  /**
   * Attaches a control client to the group; resolves true once tmux has accepted it, false when
   * it could not attach (no server, no such group yet): the caller keeps polling and retries later.
   */
  /** `output: false` asks tmux for no pane output (`no-output`): only the other notifications. */
  async connect(options: { output?: boolean } = {}): Promise<boolean> {
    if (this.closed) return false;
    if (this.client) return true;
    const flags = options.output === false ? 'no-output,ignore-size' : undefined;
    const client: ControlClient = new ControlClient(this.tmux, this.group, (notification) => {
      if (this.client === client) this.emit(notification);
    }, flags);
    this.client = client;
    void client.exited.then(() => {
      if (this.client !== client) return;
      this.client = null;
      void this.stopWaiter();
      if (!this.closed) this.emit({ type: 'detached' });
    });
    // A stopped server never answers the attach: give up after the commands' timeout.
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      client.attached,
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.tmux.timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (!answered) {
      await this.disconnect();
      return false;
    }
    for (const subscription of this.subscriptions.values()) client.send(`refresh-client -B '${subscription}'`);
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
          if (!waiter.signal.aborted) this.emit({ type: 'pane-died', channel: PANE_DIED_CHANNEL });
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
    this.client = null;
    const waiting = this.stopWaiter();
    if (!client) return waiting;
    await Promise.all([client.detach(), waiting]);
  }

  /** Detaches the control client and stops waiting; resolves when the tmux processes are gone. */
  async close(): Promise<void> {
    this.closed = true;
    await this.disconnect();
  }
}
