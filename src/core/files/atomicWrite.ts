import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pidAlive } from './pidAlive.js';

/**
 * Writes `data` to `file` so that readers see either the old file or the whole new one:
 * temp file in the same folder, fsync, rename over the target, fsync the folder. `data` may be
 * given as several buffers, written one after the other (no copy into one). Temp files of the
 * same target left by a process that died mid-write (kill -9, power loss) are removed.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const bufs = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const fd = openSync(tmp, 'w');
  try {
    for (const buf of bufs) {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  removeAtomicTemps(file);
  try {
    const dfd = openSync(dirname(file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some platforms cannot open a directory for fsync; the rename itself is still atomic.
  }
}

/**
 * Deletes the temp files `writeFileAtomic` leaves beside `file` (`.<name>.<pid>.<hex>.tmp`) when
 * its process is gone; with `includeLive` (the caller holds a lock that excludes other writers)
 * every one, this process's too (its writes are synchronous: none is in flight; in a container
 * a killed run's temp may carry the same pid as this one).
 */
export function removeAtomicTemps(file: string, options: { includeLive?: boolean } = {}): void {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (m === null || (options.includeLive !== true && (Number(m[1]) === process.pid || pidAlive(Number(m[1]))))) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // removed by someone else meanwhile
    }
  }
}
