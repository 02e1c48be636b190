// Store geometry shared by the crash test's parent and child: small segments so that a few
// hundred entries cross many data segment boundaries (BLANK fillers) and index segment boundaries.

export const CRASH_STORE_GEOMETRY = {
  dataSegmentSizeBytes: 64 * 1024,
  indexSegmentSizeBytes: 4 * 1024,
  maxEntryBodyBytes: 16 * 1024,
} as const;
