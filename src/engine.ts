// The engine moved to src/engine/; this path stays for one release.
export { createEngine, composeEngine } from './engine/create-engine.js';
export { Engine } from './engine/engine.js';
export { validateKey } from './engine/launch-spec.js';
export * from './engine/types.js';
export { WAIT_UNTIL, type ActivityExplanation, type SendResult, type WaitResult } from './engine/activity-verbs.js';
export { WorktreeKeptError } from './engine/session-verbs.js';
export * from './engine/workspaces.js';
