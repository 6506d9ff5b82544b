/**
 * The named state predicates of machines/paths.ts split their path once instead of on every call;
 * they must answer exactly as XState's own `matchesState` does, for every state the machine can
 * hold, written as an object, as a top-level string or as a dotted string.
 */
import { matchesState, type StateValue } from 'xstate';
import { describe, expect, it } from 'vitest';
import * as paths from '../machines/paths.js';

const PREDICATES: [string, (value: unknown) => boolean][] = [
  ['normal', paths.isNormal],
  ['spawning', paths.isSpawning],
  ['active', paths.isActive],
  ['active.running', paths.isRunning],
  ['active.exited', paths.isExited],
  ['orphaned', paths.isOrphaned],
  ['ending', paths.isEnding],
  ['active.exited.backoff', paths.isRestartPending],
  ['active.exited.gaveUp', paths.hasGivenUp],
  ['active.running.busy', paths.isBusy],
  ['active.running.idle', paths.isIdle],
  ['active.running.waiting', paths.isWaiting],
];

/** `a.b.c` as the object XState persists: `{ a: { b: 'c' } }`. */
function valueOf(path: string): StateValue {
  const segments = path.split('.');
  let value: StateValue = segments.pop()!;
  while (segments.length > 0) value = { [segments.pop()!]: value };
  return value;
}

describe('state predicates', () => {
  it('answer as matchesState does for every state path, however the value is written', () => {
    let checked = 0;
    for (const path of [...paths.SESSION_STATE_PATHS, 'active.running.unknown', 'nowhere']) {
      for (const value of [valueOf(path), path]) {
        for (const [name, predicate] of PREDICATES) {
          expect(predicate(value), `${name} of ${JSON.stringify(value)}`).toBe(matchesState(name, value));
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(PREDICATES.length * 20);
  });
});
