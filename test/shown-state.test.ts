/**
 * The state a picture highlights for a session object: always a state the machine has, the
 * deepest one the object's fields pick.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_STATE_PATHS } from '../machines/paths.js';
import { shownStatePath } from '../machines/shown-state.js';

describe('shownStatePath', () => {
  it('picks running or exited inside active by the exit status', () => {
    expect(shownStatePath({ state: 'active', exitStatus: null })).toBe('active.running');
    expect(shownStatePath({ state: 'active', exitStatus: 3 })).toBe('active.exited');
    expect(shownStatePath({ state: 'orphaned', exitStatus: null })).toBe('orphaned');
  });

  it('names an activity substate only where the machine has one', () => {
    const busy = shownStatePath({ state: 'active', exitStatus: null, activity: 'busy' });
    expect(SESSION_STATE_PATHS as readonly string[]).toContain(busy);
    expect(busy.startsWith('active.running')).toBe(true);
  });

  it('answers a path of the machine whatever it is given', () => {
    for (const state of ['normal', 'spawning', 'active', 'orphaned', 'ending', 'bogus']) {
      expect(SESSION_STATE_PATHS as readonly string[]).toContain(shownStatePath({ state, exitStatus: null }));
    }
  });
});
