/** A file store whose commits go through the test's own function first (to fail or hold them). */
import type { StateStore } from '../../src/store/file-store.js';
import type { CommitOp, CommitResult, OutboxChange, SessionStore } from '../../src/store/store.js';

export function storeWithCommit(
  store: StateStore,
  commit: (ops: CommitOp[], outbox: OutboxChange | undefined) => Promise<CommitResult>,
): SessionStore {
  return {
    path: store.path,
    backupPath: store.backupPath,
    lockPath: store.lockPath,
    get writeCount() {
      return store.writeCount;
    },
    load: () => store.load(),
    changed: () => store.changed(),
    lockInfo: () => store.lockInfo(),
    restoreBackup: () => store.restoreBackup(),
    commit,
  };
}
