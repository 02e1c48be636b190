// One segment file (data or index) as the store sees it: a fixed-size byte array that writes go
// straight into, and a flush that makes a byte range durable. Implementations: MmapSegmentFile
// (a shared mapping of a fallocated file) and MemorySegmentFile (simulation tests). Tests wrap a
// factory to inject faults (ENOSPC on create, failing flushes, torn writes).

export type SegmentAccess = 'read-write' | 'read-only';

export interface SegmentFile {
  readonly path: string;
  readonly sizeBytes: number;
  /** The whole segment. Writes through it are visible at once to every reader of the file. */
  readonly bytes: Uint8Array;
  /**
   * Copy `bytes` into the segment at offsetBytes, as one write(2) where the file supports it.
   * Optional: without it the store copies into `bytes` (the mapping) directly. Either way the
   * bytes are visible through `bytes` at once (one page cache) and made durable by flush().
   */
  write?(offsetBytes: number, bytes: Uint8Array): void;
  /** Make [offsetBytes, offsetBytes + lengthBytes) durable (msync MS_SYNC). Throws on I/O error. */
  flush(offsetBytes: number, lengthBytes: number): void;
  /**
   * The same flush on a helper thread (msync on the libuv pool): resolves when the range is
   * durable; the caller's event loop keeps running meanwhile. Optional: stores without it flush
   * inline.
   */
  flushInBackground?(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Drop this handle (and the file behind its mapping). The bytes view must not be used afterwards. */
  close(): void;
  /**
   * Drop this handle but leave its mapping (returned; null when none or already closed) for the
   * caller to release later, e.g. on the thread that still flushes it. Optional.
   */
  closeLeavingMapping?(): SharedArrayBuffer | null;
}

export interface SegmentFileFactory {
  /**
   * Create `path` with exactly `sizeBytes` whose blocks are allocated up front (so a write into it
   * can never fail for lack of space), durable in its directory before this returns. Throws
   * StoreDiskFullError when there is no room; leaves no partial file behind.
   */
  create(path: string, sizeBytes: number): SegmentFile;
  /** Open an existing segment; its size has been checked against `sizeBytes` by the caller. */
  open(path: string, sizeBytes: number, access: SegmentAccess): SegmentFile;
}
