// Names shared by segment creation and loading.

/** Suffix of a segment file being created; such leftovers are deleted when a store opens. */
export const SEGMENT_TEMP_SUFFIX = '.creating';
/**
 * Suffix of a segment retention is deleting: renamed first, then truncated to 0 (which frees its
 * blocks even while an old mapping of it is still waiting for garbage collection), then unlinked.
 * A crash in between leaves such a file, which the next open deletes like a creation leftover.
 */
export const SEGMENT_DELETING_SUFFIX = '.deleting';
