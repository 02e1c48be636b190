// Up-front validation of StoreOptions: every mistake is reported with the option's name before a
// file is touched.
import { StoreConfigError } from './errors.js';
import { BLANK_MIN_BYTES } from './entry-codec.js';
import { ENTRY_HEADER_BYTES, INDEX_RECORD_BYTES, type StoreOptions } from './types.js';

/** DLedger's defaults: 1 GiB data segments, 160 MiB index segments (5 Mi records), ~4 MiB bodies. */
export const DEFAULT_DATA_SEGMENT_SIZE_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_INDEX_SEGMENT_SIZE_BYTES = INDEX_RECORD_BYTES * 5 * 1024 * 1024;
export const DEFAULT_MAX_ENTRY_BODY_BYTES = 4 * 1024 * 1024 - ENTRY_HEADER_BYTES;

export function validateStoreOptions(options: StoreOptions, pageSizeBytes: number): void {
  if (typeof options.nodeDir !== 'string' || options.nodeDir.length === 0) {
    throw new StoreConfigError('nodeDir', `must be a non-empty path, got ${JSON.stringify(options.nodeDir)}`);
  }
  const data = options.dataSegmentSizeBytes;
  if (!Number.isSafeInteger(data) || data <= 0 || data % pageSizeBytes !== 0) {
    throw new StoreConfigError('dataSegmentSizeBytes', `must be a positive multiple of the page size ${pageSizeBytes}, got ${data}`);
  }
  const index = options.indexSegmentSizeBytes;
  if (!Number.isSafeInteger(index) || index <= 0 || index % INDEX_RECORD_BYTES !== 0) {
    throw new StoreConfigError('indexSegmentSizeBytes', `must be a positive multiple of the index record size ${INDEX_RECORD_BYTES}, got ${index}`);
  }
  const body = options.maxEntryBodyBytes;
  if (!Number.isSafeInteger(body) || body < 0) {
    throw new StoreConfigError('maxEntryBodyBytes', `must be a non-negative integer, got ${body}`);
  }
  // A record must fit in an empty segment and still leave room for the BLANK that may follow it.
  if (ENTRY_HEADER_BYTES + body + BLANK_MIN_BYTES > data) {
    throw new StoreConfigError(
      'maxEntryBodyBytes',
      `${body} does not fit in a data segment of ${data} bytes (needs ${ENTRY_HEADER_BYTES} header + body + ${BLANK_MIN_BYTES} <= segment)`,
    );
  }
  const flush = options.flush;
  if (flush === null || typeof flush !== 'object' || (flush.kind !== 'sync' && flush.kind !== 'async')) {
    throw new StoreConfigError('flush', `must be { kind: 'sync' } or { kind: 'async', intervalMs }, got ${JSON.stringify(flush)}`);
  }
  if (flush.kind === 'async' && (!Number.isSafeInteger(flush.intervalMs) || flush.intervalMs <= 0)) {
    throw new StoreConfigError('flush.intervalMs', `must be a positive integer of milliseconds, got ${flush.intervalMs}`);
  }
  if (options.flushInBackground !== undefined && typeof options.flushInBackground !== 'boolean') {
    throw new StoreConfigError('flushInBackground', `must be true or false, got ${JSON.stringify(options.flushInBackground)}`);
  }
}
