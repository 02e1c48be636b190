// Operating errors of the store: bad configuration, corrupted files, a full disk, misuse of a
// closed or failed store. Each names what was wrong and where (file, byte offset, expected and
// found values) so an operator can act on the message alone. Programmer errors are assertions
// (src/util/assert.ts), not these.

/** An option failed validation; `option` is its name as written in StoreOptions. */
export class StoreConfigError extends Error {
  override name = 'StoreConfigError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`invalid store option ${option}: ${message}`);
  }
}

export interface CorruptionDetails {
  /** The file holding the bad bytes. */
  readonly filePath: string;
  /** Byte offset inside that file. */
  readonly fileOffsetBytes: number;
  /** What was checked, e.g. "bodyCrc of entry 41" or "segment file size". */
  readonly what: string;
  readonly expected: string;
  readonly found: string;
  /** Extra context: why this is treated as corruption and not as a torn tail. */
  readonly detail?: string;
}

/**
 * Bytes on disk contradict the format or their checksums somewhere the store cannot safely cut
 * (before the tail, or in a file the operator must look at). The store refuses to open or to
 * return the entry rather than guess.
 */
export class StoreCorruptionError extends Error {
  override name = 'StoreCorruptionError';
  readonly filePath: string;
  readonly fileOffsetBytes: number;
  readonly expected: string;
  readonly found: string;
  constructor(details: CorruptionDetails) {
    super(
      `corruption in ${details.filePath} at offset ${details.fileOffsetBytes}: ${details.what}: ` +
        `expected ${details.expected}, found ${details.found}` +
        (details.detail === undefined ? '' : ` (${details.detail})`),
    );
    this.filePath = details.filePath;
    this.fileOffsetBytes = details.fileOffsetBytes;
    this.expected = details.expected;
    this.found = details.found;
  }
}

/** The file system has no room for a new segment. Nothing of the failed append was written. */
export class StoreDiskFullError extends Error {
  override name = 'StoreDiskFullError';
  constructor(
    readonly filePath: string,
    cause: unknown,
  ) {
    super(`disk full: cannot allocate segment ${filePath}: ${describe(cause)}`, { cause });
  }
}

/**
 * A flush (msync/fdatasync) failed. After a failed flush the kernel may have dropped the dirty
 * pages ("fsyncgate"), so nothing written since the last good flush can be trusted durable: the
 * store stops accepting writes and must be reopened (recovery re-verifies what is on disk).
 */
export class StoreFailedError extends Error {
  override name = 'StoreFailedError';
  constructor(message: string, cause?: unknown) {
    super(cause === undefined ? message : `${message}: ${describe(cause)}`, { cause });
  }
}

/** Another live store (this process or another) has the node directory open for writing. */
export class StoreLockedError extends Error {
  override name = 'StoreLockedError';
  constructor(
    readonly lockPath: string,
    readonly holderPid: number,
  ) {
    super(`store is locked: ${lockPath} is held by ${holderPid === process.pid ? 'another store in this process' : `process ${holderPid}`}`);
  }
}

/** The store was closed; no operation is possible. */
export class StoreClosedError extends Error {
  override name = 'StoreClosedError';
  constructor(operation: string) {
    super(`store is closed: cannot ${operation}`);
  }
}

/**
 * Records given to appendRaw (or an append argument) do not fit the log: wrong index, pos, term,
 * size or CRC. Nothing was written.
 */
export class StoreRejectedRecordError extends Error {
  override name = 'StoreRejectedRecordError';
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`rejected record: ${what}: expected ${expected}, found ${found}`);
  }
}

/** whenDurable(index) for an entry that a truncate removed before it became durable. */
export class StoreTruncatedError extends Error {
  override name = 'StoreTruncatedError';
  constructor(
    readonly index: number,
    readonly truncatedFromIndex: number,
  ) {
    super(`entry ${index} was truncated (truncate from ${truncatedFromIndex}) before it became durable`);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
