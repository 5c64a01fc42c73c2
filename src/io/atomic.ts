// Files written whole or not at all: data goes to a temporary file beside the
// target, is flushed to disk, and is renamed over the target. A rename within
// one directory is atomic on POSIX file systems, so a reader (or a run that was
// killed half-way) sees either the old file or the complete new one.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Writes `data` to `path` atomically; see `writeChunksAtomic`. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new TypeError(`writeFileAtomic: data must be a Uint8Array or a string, got ${data === null ? 'null' : typeof data}`);
  writeChunksAtomic(path, [typeof data === 'string' ? Buffer.from(data, 'utf8') : data]);
}

/**
 * Writes the chunks one after another to a temporary file in the target's
 * directory, fsyncs it, and renames it to `path`. The chunks may be produced
 * lazily (a generator), so a large file never needs to be in memory at once.
 * If anything fails, including the chunk producer throwing, the temporary file
 * is removed, the file already at `path` is left untouched, and the error names
 * `path`.
 */
export function writeChunksAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`writeFileAtomic: path must be a non-empty string, got ${JSON.stringify(path)}`);
  const dir = dirname(path);
  // Dot-prefixed and random, so it neither shows in listings nor collides with
  // a concurrent writer of the same target.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx');
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    removeQuietly(temp);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`could not write '${path}': ${reason}; the file there (if any) is unchanged`, { cause: error });
  }
  syncDirectory(dir);
}

// writeSync may write fewer bytes than asked (large buffers, signals).
function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) done += writeSync(fd, chunk, done, chunk.byteLength - done);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // The write already failed; that error is the one to report.
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Never created (open failed) or already gone: nothing to clean up.
  }
}

// Makes the rename itself durable across a power loss. Some platforms cannot
// open or fsync a directory (Windows); the file's own data is already on disk,
// so that is not an error.
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // See above: best effort only.
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
