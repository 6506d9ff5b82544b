/**
 * The deepest state of the statechart a session object stands for, for pictures that highlight
 * it. The session object (`SessionInfo`) carries the top-level state and the facts that pick a
 * substate (an exit status; an activity once the machine has those substates); this reads them
 * the way the machine defines them, so nothing outside `machines/` compares state strings.
 */
import { SESSION_STATE_PATHS } from './paths.js';

export interface ShownSession {
  state: string;
  exitStatus: number | null;
  /** `busy` / `idle` / `waiting` where the session object has it. */
  activity?: string | null | undefined;
}

const KNOWN: ReadonlySet<string> = new Set(SESSION_STATE_PATHS);

/** `active.running`, `active.exited`, `orphaned`, …: always a path the machine has. */
export function shownStatePath(session: ShownSession): string {
  if (session.state !== 'active') return KNOWN.has(session.state) ? session.state : 'normal';
  const leaf = session.exitStatus === null ? 'active.running' : 'active.exited';
  const deeper = session.activity ? `${leaf}.${session.activity}` : null;
  return deeper && KNOWN.has(deeper) ? deeper : leaf;
}

