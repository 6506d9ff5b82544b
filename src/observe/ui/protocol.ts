/**
 * What the `warden ui` server and its page say to each other: types only, shared by both sides
 * (the page is bundled for the browser, the server runs in Node).
 */

/**
 * A session as the page shows it: the JSON session object, whatever fields this version of the
 * engine has (activity, logFile, worktree, restarts, serverPid where present), plus the path of
 * its state in the statechart.
 */
export interface SessionView {
  key: string;
  state: string;
  sessionId: string | null;
  exitStatus: number | null;
  labels: Record<string, string>;
  command: string[];
  cwd: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  /** Dotted path of the state to highlight (`active.running`). */
  statePath: string;
  activity?: string | null;
  activitySince?: string | null;
  activitySource?: string | null;
  logFile?: string | null;
  worktree?: { path?: string; branch?: string | null } | null;
  restarts?: number | null;
  serverPid?: number | null;
  [field: string]: unknown;
}

/** One transition, as `watch` prints it. */
export interface TransitionView {
  key: string;
  from: string;
  to: string;
  event: string;
  at: string;
  origin: 'here' | 'elsewhere';
}

/** The statechart, drawn by the page: Mermaid text and where each state is in it. */
export interface ChartView {
  mermaid: string;
  /** State path → its Mermaid id. */
  states: { path: string; id: string }[];
  /** Event type → the trigger as the chart labels it (`xstate.done.actor.launch` → `done launchWindow`). */
  triggers: Record<string, string>;
}

/** The first message on the event stream: everything there is now. */
export interface ResetMessage {
  sessions: SessionView[];
  /** The last few transitions of each session, oldest first. */
  recent: TransitionView[];
}

/** Every later message: what changed. */
export interface UpdateMessage {
  upsert: SessionView[];
  remove: string[];
  transitions: TransitionView[];
}

/** The actions the page offers; each is `POST /api/sessions/KEY/ACTION`. */
export const UI_ACTIONS = ['send', 'resume', 'fresh', 'end'] as const;
export type UiAction = (typeof UI_ACTIONS)[number];

/** What an action answers. */
export type ActionReply = { session: SessionView | null; message: string } | { error: { code: string; message: string } };

/** The header the page sends its token in (a custom header also makes a cross-origin request preflight, which is refused). */
export const TOKEN_HEADER = 'x-warden-token';
