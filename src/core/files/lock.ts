import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { QxError, type QxErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { pidAlive } from './pidAlive.js';
import { removeAtomicTemps } from './atomicWrite.js';

/** Contents of a lock file (`.qx/lock`, an index's `write.lock`). */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
}

/** What a lock protects, for the messages of a refused or taken-over lock. */
export interface LockSubject {
  /** Error code when the lock is refused. */
  code: QxErrorCode;
  /** What is locked, as the subject of a sentence: "the curation store". */
  name: string;
  /** Verb phrase while a process is taking the lock right now: "is being opened". */
  busy: string;
  /** Verb phrase for a process that holds the lock: "is opened". */
  held: string;
  /** Hint when a live process on this host holds the lock. */
  liveHint: (file: string) => string;
  /** Hint when a process on another host holds the lock. */
  remoteHint: (file: string) => string;
}

const curationStore: LockSubject = {
  code: 'store',
  name: 'the curation store',
  busy: 'is being opened',
  held: 'is opened',
  liveHint: (file) => `Close it (the other VS Code window or qx command) or wait for it to finish; delete ${file} only if that process is not QX Studio.`,
  remoteHint: (file) => `Close it there, or delete ${file} if that process is gone.`,
};

/**
 * A lock file younger than this that cannot be parsed is probably being written right now: where
 * hard links do not work (FAT, exFAT, some shares) a lock is written in place, as older versions
 * did everywhere. (A lock this version creates with a hard link is never unreadable.)
 */
const unreadableGraceMs = 5000;

/** Writes `text` to a new file `file` and flushes it; throws EEXIST when the file exists. */
function writeNew(file: string, text: string): void {
  const fd = openSync(file, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * True for the name of a temp file a process writes beside the lock `lockName` while taking it
 * (`.<lockName>.<pid>.<hex>.tmp`): it may appear in the lock's folder for a moment at any time.
 */
export function isLockTemp(name: string, lockName: string): boolean {
  return name.startsWith(`.${lockName}.`) && name.endsWith('.tmp');
}

/**
 * Creates `file` holding `text`, complete or not at all: the text is written and flushed to a
 * temporary file first, then hard-linked into place (link fails with EEXIST when `file` exists).
 * A process killed at any point leaves either no lock or a whole one, never an empty lock file.
 * Where hard links do not work, falls back to writing `file` in place. Returns false when `file`
 * exists.
 */
function createWhole(file: string, text: string, pid: number): boolean {
  const temp = join(dirname(file), `.${basename(file)}.${pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeNew(temp, text);
  } catch (e) {
    unlinkQuiet(temp);
    throw e;
  }
  try {
    linkSync(temp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      // Over NFS a retransmitted link that the server already made reports EEXIST: then the temp
      // file has two names and the lock is ours.
      return linkCount(temp) === 2;
    }
    // No hard links here (EPERM on FAT, ENOTSUP or EOPNOTSUPP on some shares, other codes on
    // other systems): write the lock in place, which fails with its own error if nothing works.
  } finally {
    unlinkQuiet(temp);
  }
  try {
    writeNew(file, text);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function linkCount(file: string): number {
  try {
    return statSync(file).nlink;
  } catch {
    return 0;
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.started === 'string') {
      return { pid: v.pid, host: v.host, started: v.started };
    }
    return null;
  } catch {
    return null;
  }
}

/** An exclusive lock held by this process; `release()` removes the file if it is still ours. */
export class StoreLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string, readonly info: LockInfo) {
    process.once('exit', this.onExit);
  }

  /**
   * Creates `file` whole (see `createWhole`). A lock left by a dead process on this host is taken
   * over with a warning; a live one (or one from another host, which we cannot check) is a QxError of
   * `subject.code` ('store' for the curation store).
   */
  static acquire(file: string, logger: Logger, now: () => Date = () => new Date(), subject: LockSubject = curationStore): StoreLock {
    const info: LockInfo = { pid: process.pid, host: hostname(), started: now().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createWhole(file, JSON.stringify(info) + '\n', info.pid)) {
        // A process killed between writing its temp file and linking it left the temp behind.
        removeAtomicTemps(file);
        return new StoreLock(file, info);
      }
      const held = readLock(file);
      if (held === null) {
        let age = Infinity;
        try {
          age = Date.now() - statSync(file).mtimeMs;
        } catch {
          continue;
        }
        if (age < unreadableGraceMs) {
          throw new QxError(subject.code, `${subject.name} ${subject.busy} by another process right now`, {
            file,
            hint: 'Wait a moment and try again.',
          });
        }
        logger.warn(`${file}: unreadable lock file, taking it over.`);
      } else if (held.host !== info.host) {
        throw new QxError(subject.code, `${subject.name} ${subject.held} by process ${held.pid} on host ${held.host} since ${held.started}`, {
          file,
          hint: subject.remoteHint(file),
        });
      } else if (pidAlive(held.pid)) {
        throw new QxError(subject.code, `${subject.name} ${subject.held} by process ${held.pid} since ${held.started}`, {
          file,
          hint: subject.liveHint(file),
        });
      } else {
        logger.warn(`${file}: process ${held.pid} that locked ${subject.name} since ${held.started} is gone; taking the lock over.`);
      }
      try {
        unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new QxError(subject.code, `could not take the lock on ${subject.name}: another process keeps taking it`, { file });
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    const held = readLock(this.file);
    if (held !== null && held.pid === this.info.pid && held.host === this.info.host && held.started === this.info.started) {
      try {
        unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}
