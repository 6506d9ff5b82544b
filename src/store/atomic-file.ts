/**
 * The durable adapter under lowdb. Every write replaces the file atomically (unique temp file,
 * fsync, rename, fsync the directory), so a crash leaves the old file or the new one, never half
 * of either, and keeps the last good file as `.bak`.
 */
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Adapter } from 'lowdb';
import { StateFileError, WardenError } from '../model/errors.js';
import type { StateDocument } from '../model/schema.js';
import { emptyStateDocument, parseStateDocument } from './document.js';
import { STATE_DIRECTORY_MODE, STATE_FILE_MODE, temporaryPattern, temporarySibling } from './paths.js';
import { describeError, errnoCode, stateIoError } from './state-file-errors.js';
import { assertTrustedStateFile } from './trust.js';
import { processAlive } from '../tmux/host.js';
import { pausePoint } from '../model/pause-point.js';
import { recordValidated, wasValidated } from './validated.js';

/**
 * What identifies one version of the file without reading it. The inode alone does not: every
 * write makes a new one, and ext4 hands a freed number out again two writes later. Nor do the size
 * and the kernel's mtime, which steps in clock ticks (4 ms here): three writes of the same size in
 * one tick would look unchanged. So each write gives its file an mtime later than the file it
 * replaces (`successorMtimeMs`), whatever the clock says: no two versions share one.
 */
export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}
export type SeenFile = FileIdentity | 'absent';

function identityOf(st: { ino: number; size: number; mtimeMs: number }): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

/** 10 µs: well above what a double of today's epoch keeps (about 0.25 µs) through utimes and stat. */
const MTIME_STEP_MS = 0.01;

/** The mtime of a file that replaces `previous`: now, or just after `previous` when the clock is not past it. */
export function successorMtimeMs(previous: SeenFile | null, nowMs = Date.now()): number {
  return previous && previous !== 'absent' ? Math.max(nowMs, previous.mtimeMs + MTIME_STEP_MS) : nowMs;
}

export function sameFile(a: SeenFile | null, b: SeenFile): boolean {
  if (a === null) return false;
  if (a === 'absent' || b === 'absent') return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export async function identifyFile(file: string): Promise<SeenFile> {
  try {
    return identityOf(await stat(file));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 'absent';
    throw stateIoError(file, `cannot stat state file ${file} (${describeError(err)}): check the path and its permissions`, err);
  }
}

export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory; the renames are still atomic there.
    if (!['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoCode(err) ?? '')) throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * A writer killed between creating its temp file and renaming it (SIGKILL, or SIGXFSZ when a file
 * size limit is hit) leaves `.state.json.new.<pid>.<rand>.tmp` behind. Removes those whose process
 * is gone; they were never the state file. Call it under the lock.
 */
export async function sweepAbandonedTemporaries(file: string, backupFile: string): Promise<void> {
  const dir = path.dirname(file);
  const temp = temporaryPattern([file, backupFile]);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const pid = Number(temp.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * lowdb adapter for the state file. `read` validates (a missing file is an empty document);
 * `write` replaces the file atomically and durably. Both record the identity of the file they saw.
 */
export class DurableStateFile implements Adapter<StateDocument> {
  /** The file as last read or written through this adapter (null: not yet). */
  seen: SeenFile | null = null;
  /** Called just before the new file replaces the old one; throwing aborts the write. */
  beforeReplace: (() => Promise<void>) | null = null;

  constructor(
    readonly file: string,
    readonly backupFile: string,
  ) {}

  async read(): Promise<StateDocument> {
    let handle: FileHandle;
    try {
      handle = await open(this.file, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        this.seen = 'absent';
        return emptyStateDocument();
      }
      throw stateIoError(this.file, `cannot read state file ${this.file} (${describeError(err)}): check that it and its directory are readable`, err);
    }
    let text: string;
    let identity: FileIdentity;
    try {
      // fstat the open file, so the identity (and owner) is exactly that of the bytes read.
      const st = await handle.stat();
      assertTrustedStateFile(this.file, st);
      identity = identityOf(st);
      text = await handle.readFile('utf8');
    } catch (err) {
      if (err instanceof WardenError) throw err;
      throw stateIoError(this.file, `cannot read state file ${this.file} (${describeError(err)}): check that it is a readable file`, err);
    } finally {
      await handle.close().catch(() => {});
    }
    const document = parseStateDocument(text, this.file, { validated: wasValidated(this.file, text) });
    this.seen = identity;
    return document;
  }

  async write(document: StateDocument): Promise<void> {
    const dir = path.dirname(this.file);
    const json = JSON.stringify(document);
    const temp = temporarySibling(this.file, 'new');
    let backupTemp: string | null = null;
    let handle: FileHandle | undefined;
    let tempExists = false;
    let firstWrite = false;
    try {
      await mkdir(dir, { recursive: true, mode: STATE_DIRECTORY_MODE });
      handle = await open(temp, 'wx', STATE_FILE_MODE);
      tempExists = true;
      await handle.chmod(STATE_FILE_MODE); // whatever the umask
      await handle.writeFile(json, 'utf8');
      // `seen` is the file this one replaces, as read under the lock.
      const mtime = successorMtimeMs(this.seen) / 1000;
      // A filesystem that refuses it keeps the kernel's mtime: the check is as good as before.
      await handle.utimes(mtime, mtime).catch(() => undefined);
      await handle.sync();
      const written = identityOf(await handle.stat());
      await handle.close();
      handle = undefined;

      // Keep the current (validated) file as .bak: link it under a unique name, then rename that
      // over .bak, so .bak is replaced atomically and always holds a complete good file.
      backupTemp = temporarySibling(this.backupFile, 'link');
      try {
        await link(this.file, backupTemp);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') {
          backupTemp = null; // first write: nothing to keep yet
          firstWrite = true;
        }
        else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'EMLINK') {
          await copyFile(this.file, backupTemp, fsConstants.COPYFILE_EXCL); // no hard links here
        } else throw err;
      }
      if (backupTemp !== null) {
        await rename(backupTemp, this.backupFile);
        // When .bak already is a link to this same file (a write that failed after re-linking it),
        // rename(2) does nothing and leaves the temp link behind.
        await unlink(backupTemp).catch(() => {});
        backupTemp = null;
      }

      await this.beforeReplace?.();
      pausePoint('before-replace');
      await rename(temp, this.file);
      pausePoint('after-replace');
      tempExists = false;
      this.seen = written;
      // These bytes were validated: the next read of them, by any process, need not do it again.
      recordValidated(this.file, json);
      // The first file is kept as .bak at once, so deleting the state file never leaves nothing
      // to notice it by (invariant 12); an existing .bak is left alone.
      if (firstWrite) await link(this.file, this.backupFile).catch(() => {});
    } catch (err) {
      await handle?.close().catch(() => {});
      if (tempExists) await unlink(temp).catch(() => {});
      if (backupTemp !== null) await unlink(backupTemp).catch(() => {});
      if (err instanceof StateFileError) throw err;
      throw stateIoError(
        this.file,
        `cannot write state file ${this.file} (${describeError(err)}): check permissions and free space in ${dir}; the file was left as it was (last good copy: ${this.backupFile})`,
        err,
      );
    }
    try {
      await fsyncDirectory(dir);
    } catch (err) {
      throw stateIoError(
        this.file,
        `state file ${this.file} was replaced but ${dir} could not be synced (${describeError(err)}): the change may not survive a crash`,
        err,
      );
    }
  }
}
