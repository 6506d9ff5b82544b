/**
 * The live picture the page is fed: every session as last made durable, and the recent
 * transitions of each. Transitions are heard from the engine (this process's and, through its
 * watch, other processes'); a change that is not a transition (an activity's age, a label) is
 * caught by comparing the list at each tick. Each message holds only what changed.
 */
import type { Engine, TransitionEvent } from '../../engine.js';
import type { SessionInfo } from '../../model/schema.js';
import { shownStatePath } from '../../../machines/shown-state.js';
import type { ResetMessage, SessionView, TransitionView, UpdateMessage } from './protocol.js';

/** How many transitions of one session the page can show. */
export const RECENT_PER_SESSION = 20;

export function sessionView(info: SessionInfo): SessionView {
  return { ...info, statePath: shownStatePath(info) };
}

function transitionView(t: TransitionEvent): TransitionView {
  return { key: t.key, from: t.from, to: t.to, event: t.event, at: t.at, origin: t.origin };
}

export type UpdateListener = (message: UpdateMessage) => void;

export class SessionFeed {
  /** What the clients were last told, as JSON per key: a change is a different string. */
  private readonly shown = new Map<string, string>();
  private readonly views = new Map<string, SessionView>();
  private readonly recent = new Map<string, TransitionView[]>();
  private readonly heard: TransitionView[] = [];
  private readonly listeners = new Set<UpdateListener>();
  private readonly unsubscribe: () => void;
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly engine: Engine) {
    this.unsubscribe = engine.subscribe((t) => this.hear(t));
    this.refresh();
  }

  private hear(t: TransitionEvent): void {
    const view = transitionView(t);
    const list = this.recent.get(t.key) ?? [];
    list.push(view);
    if (list.length > RECENT_PER_SESSION) list.shift();
    this.recent.set(t.key, list);
    this.heard.push(view);
    // A burst of transitions (a reconcile of many sessions) goes out as one message.
    this.scheduled ??= setImmediate(() => {
      this.scheduled = null;
      this.refresh();
    });
  }

  /** Compares the engine's sessions with what was sent, and tells the clients what changed. */
  refresh(): void {
    const upsert: SessionView[] = [];
    const seen = new Set<string>();
    for (const info of this.engine.list()) {
      seen.add(info.key);
      const view = sessionView(info);
      const json = JSON.stringify(view);
      if (this.shown.get(info.key) === json) continue;
      this.shown.set(info.key, json);
      this.views.set(info.key, view);
      upsert.push(view);
    }
    const remove = [...this.shown.keys()].filter((key) => !seen.has(key));
    for (const key of remove) {
      this.shown.delete(key);
      this.views.delete(key);
      this.recent.delete(key);
    }
    const transitions = this.heard.splice(0);
    if (upsert.length === 0 && remove.length === 0 && transitions.length === 0) return;
    const message: UpdateMessage = { upsert, remove, transitions };
    for (const listener of this.listeners) listener(message);
  }

  /** Everything there is now, for a client that just connected. */
  reset(): ResetMessage {
    this.refresh();
    const recent = [...this.recent.values()].flat().sort((a, b) => a.at.localeCompare(b.at));
    return { sessions: [...this.views.values()], recent };
  }

  onUpdate(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.unsubscribe();
    this.listeners.clear();
  }
}
