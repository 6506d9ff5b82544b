/** `up` and `down`: a sessions file, a pure plan against what the engine holds, applied through the engine. */
export * from './schema.js';
export * from './load.js';
export * from './plan.js';
export * from './apply.js';
