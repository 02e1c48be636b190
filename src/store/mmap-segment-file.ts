// A segment file mapped with the native binding (src/native/mmap.ts), MAP_SHARED.
//
// Creation allocates the blocks with fallocate — not a sparse ftruncate (a store into a hole of a
// mapping on a full disk is a SIGBUS that kills the process) and not zero-filling (an msync into
// already-written zero pages measured about 2x slower on ext4 here, reference/deps-and-limits.md
// §2b, and filling 1 GiB costs seconds). The file is built under a temporary name, fdatasync'd,
// renamed into place and the directory fsync'd, so a crash never leaves a short segment under
// a real segment name.
import { closeSync, fdatasyncSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fallocate, madvise, mapFile, msync, msyncInBackground, NativeIoError, PAGE_SIZE_BYTES, releaseMapping } from '../native/mmap.js';
import { assert } from '../util/assert.js';
import { StoreDiskFullError } from './errors.js';
import { fsyncDirectory } from './fs-util.js';
import type { SegmentAccess, SegmentFile, SegmentFileFactory } from './segment-file.js';
import { SEGMENT_TEMP_SUFFIX } from './segment-names.js';


export class MmapSegmentFile implements SegmentFile {
  readonly bytes: Uint8Array;
  // Invariant: mapping is the whole file [0, sizeBytes); null after close.
  private mapping: SharedArrayBuffer | null;

  // Invariant: an open descriptor for read-write segments (for write()), null for read-only ones
  // and after close.
  private fd: number | null;

  private constructor(
    readonly path: string,
    readonly sizeBytes: number,
    mapping: SharedArrayBuffer,
    fd: number | null,
  ) {
    this.mapping = mapping;
    this.fd = fd;
    this.bytes = new Uint8Array(mapping);
  }

  static create(path: string, sizeBytes: number): MmapSegmentFile {
    const tempPath = path + SEGMENT_TEMP_SUFFIX;
    const fd = openSync(tempPath, 'wx+', 0o644);
    try {
      try {
        fallocate(fd, 0, sizeBytes, tempPath);
      } catch (error) {
        if (error instanceof NativeIoError && (error.code === 'ENOSPC' || error.code === 'EDQUOT')) {
          throw new StoreDiskFullError(path, error);
        }
        throw error;
      }
      // The allocation (extent metadata and size) must be durable before data in it can be.
      fdatasyncSync(fd);
      const mapping = mapFile(fd, sizeBytes, 0, { writable: true, filePath: path });
      // No readahead on faults: readahead builds large page-cache folios, and msync writes back
      // whole folios that straddle the synced range (measured 3.6x the device bytes for 256 x 1 KiB
      // batches without this, about 1.1x with it).
      madvise(mapping, 0, sizeBytes, 'random', path);
      renameSync(tempPath, path);
      fsyncDirectory(dirname(path));
      // The descriptor stays open (it follows the rename) for write().
      return new MmapSegmentFile(path, sizeBytes, mapping, fd);
    } catch (error) {
      closeSync(fd);
      rmSync(tempPath, { force: true });
      throw error;
    }
  }

  static open(path: string, sizeBytes: number, access: SegmentAccess): MmapSegmentFile {
    const fd = openSync(path, access === 'read-write' ? 'r+' : 'r');
    let keep = false;
    try {
      const actualBytes = fstatSync(fd).size;
      assert(actualBytes === sizeBytes, `${path} is ${actualBytes} bytes, caller checked ${sizeBytes}`);
      const mapping = mapFile(fd, sizeBytes, 0, { writable: access === 'read-write', filePath: path });
      // No readahead on faults: readahead builds large page-cache folios, and msync writes back
      // whole folios that straddle the synced range (measured 3.6x the device bytes for 256 x 1 KiB
      // batches without this, about 1.1x with it).
      madvise(mapping, 0, sizeBytes, 'random', path);
      keep = access === 'read-write';
      return new MmapSegmentFile(path, sizeBytes, mapping, keep ? fd : null);
    } finally {
      if (!keep) closeSync(fd);
    }
  }

  write(offsetBytes: number, bytes: Uint8Array): void {
    assert(this.fd !== null, `write to ${basename(this.path)}, which is read-only or closed`);
    assert(offsetBytes >= 0 && offsetBytes + bytes.length <= this.sizeBytes, `write of ${bytes.length} bytes at ${offsetBytes} outside ${basename(this.path)}`);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offsetBytes + done);
  }

  flush(offsetBytes: number, lengthBytes: number): void {
    assert(this.mapping !== null, `flush of closed segment ${basename(this.path)}`);
    if (lengthBytes === 0) return;
    // msync wants a page-aligned start; the wrapper rounds down, we only keep the range in bounds.
    const alignedStart = offsetBytes - (offsetBytes % PAGE_SIZE_BYTES);
    msync(this.mapping, alignedStart, offsetBytes + lengthBytes - alignedStart, 'sync', this.path);
  }

  flushInBackground(offsetBytes: number, lengthBytes: number): Promise<void> {
    assert(this.mapping !== null, `flush of closed segment ${basename(this.path)}`);
    if (lengthBytes === 0) return Promise.resolve();
    const alignedStart = offsetBytes - (offsetBytes % PAGE_SIZE_BYTES);
    return msyncInBackground(this.mapping, alignedStart, offsetBytes + lengthBytes - alignedStart, this.path);
  }

  /**
   * Close the descriptor and let go of the file at once (releaseMapping): without that, the
   * mapping kept the file (an unlinked one's blocks too) until every thread's GC collected the
   * SharedArrayBuffer. The address range itself is unmapped when it is collected.
   */
  close(): void {
    const mapping = this.closeLeavingMapping();
    if (mapping !== null) releaseMapping(mapping, this.path);
  }

  /**
   * Close the descriptor but leave the mapping to whoever releases it (the storage worker, after
   * the flushes it still has queued for this segment). Returns it (null if already closed).
   */
  closeLeavingMapping(): SharedArrayBuffer | null {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    const mapping = this.mapping;
    this.mapping = null;
    return mapping;
  }
}

export const mmapSegmentFileFactory: SegmentFileFactory = {
  create: (path, sizeBytes) => MmapSegmentFile.create(path, sizeBytes),
  open: (path, sizeBytes, access) => MmapSegmentFile.open(path, sizeBytes, access),
};
