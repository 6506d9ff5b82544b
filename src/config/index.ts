/** The user's config file: its schema, where it is, and the one function that reads it. */
export * from './schema.js';
export * from './load.js';
