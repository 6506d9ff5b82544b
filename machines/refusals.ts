/**
 * Why the machine refuses an event, in words a user can act on. Whether it refuses is the
 * machine's own answer (`snapshot.can(event)`); this module only names the way out.
 */
import type { SpawnMode } from '../src/model/schema.js';
import { isNormal, topState } from './paths.js';
import type { SessionEvent } from './session.js';

/** A snapshot that can answer `can` (an actor's, or one resolved from a persisted record). */
export interface AskableSnapshot {
  value: unknown;
  can(event: SessionEvent): boolean;
}

/** A refused event: `not-found` when there is no session to act on, `conflict` otherwise. */
export interface Refusal {
  kind: 'conflict' | 'not-found';
  message: string;
}

/** Why SPAWN in `mode` is refused for `key` in `snapshot`, or null when the machine takes it. */
export function spawnRefusal(snapshot: AskableSnapshot, event: Extract<SessionEvent, { type: 'SPAWN' }>, key: string): Refusal | null {
  if (snapshot.can(event)) return null;
  const state = topState(snapshot.value);
  const mode: SpawnMode = event.mode;
  if (mode === 'normal') {
    return {
      kind: 'conflict',
      message: `${key} is ${state}: use --mode ensure to keep it running, --mode resume to relaunch it or --mode fresh to restart it`,
    };
  }
  if (isNormal(snapshot.value)) {
    return { kind: 'not-found', message: `no session ${key} to resume: start it with --mode ensure or --mode normal` };
  }
  return { kind: 'conflict', message: `${key} is ${state}: try again when it finishes, or end it with 'warden end ${key}'` };
}

/** The event that ends the session in `snapshot` (END, or RETRY of a failed cleanup), or a refusal. */
export function endEvent(snapshot: AskableSnapshot, key: string): SessionEvent | Refusal {
  if (snapshot.can({ type: 'END' })) return { type: 'END' };
  if (snapshot.can({ type: 'RETRY' })) return { type: 'RETRY' };
  return { kind: 'conflict', message: `${key} is ${topState(snapshot.value)}: try again when it is active` };
}
