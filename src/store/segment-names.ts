// Names shared by segment creation and loading.

/** Suffix of a segment file being created; such leftovers are deleted when a store opens. */
export const SEGMENT_TEMP_SUFFIX = '.creating';
