// Kept for one release: the store now lives in src/store/ (store.ts holds the SessionStore seam).
export type { CommitOp, CommitResult, RecordContent, RecordStamp } from './store/store.js';
export { StateStore, type StateStoreOptions } from './store/file-store.js';
export { defaultStatePath } from './store/paths.js';
export { migrateDocument, migrations, parseStateDocument, type Migration } from './store/document.js';
export { assertNotPromotingEmpty } from './store/merge.js';
