// SEARCH_OFFSET_BY_TIMESTAMP's answer: RocketMQ's ConsumeQueue.getOffsetInQueueByTime
// (binarySearchInQueueByTime, RocketMQ 5) over the store timestamps of the units held,
// [minOffset, maxOffset). Boundary rules, as Java's:
// - an empty queue: 0;
// - every message stored before the timestamp: LOWER maxOffset (the next one), UPPER the last;
// - every message stored after it: LOWER minOffset (Java: the first offset of the queue's first
//   mapped file, which is minOffset or a little below after retention; we have no files), UPPER 0;
// - messages stored at exactly the timestamp: LOWER the first of them, UPPER the last;
// - otherwise LOWER the first stored after it, UPPER the last stored before it;
// - a unit whose message cannot be read (deleted under us): 0, as Java's storeTime < 0.
// The store times of one queue do not decrease (one leader appends at a time and stamps with
// max(now, last)); should they, the answer is still an offset in range, only not the boundary.
export type BoundaryType = 'LOWER' | 'UPPER';

export function parseBoundaryType(text: string | null): BoundaryType {
  if (text === null || text === '') return 'LOWER';
  const upper = text.toUpperCase();
  if (upper !== 'LOWER' && upper !== 'UPPER') throw new RangeError(`boundaryType must be LOWER or UPPER, got ${JSON.stringify(text)}`);
  return upper;
}

/**
 * storeTimeMsAt(offset): the store timestamp of the message at a queue offset in
 * [minOffset, maxOffset), or null when it cannot be read.
 */
export function offsetInQueueByTime(minOffset: number, maxOffset: number, storeTimeMsAt: (queueOffset: number) => number | null, timestampMs: number, boundary: BoundaryType): number {
  if (maxOffset <= minOffset) return 0;
  const last = maxOffset - 1;
  const lastTime = storeTimeMsAt(last);
  if (lastTime === null) return 0;
  if (lastTime < timestampMs) return boundary === 'LOWER' ? maxOffset : last;
  const firstTime = storeTimeMsAt(minOffset);
  if (firstTime === null) return 0;
  if (firstTime > timestampMs) return boundary === 'LOWER' ? minOffset : 0;
  // Invariant from here: time(minOffset) <= timestampMs <= time(last).
  // LOWER: the first offset whose time >= timestampMs; UPPER: the last whose time <= timestampMs.
  let low = minOffset;
  let high = last;
  if (boundary === 'LOWER') {
    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      const time = storeTimeMsAt(middle);
      if (time === null) return 0;
      if (time >= timestampMs) high = middle;
      else low = middle + 1;
    }
    return low;
  }
  while (low < high) {
    const middle = low + Math.ceil((high - low) / 2);
    const time = storeTimeMsAt(middle);
    if (time === null) return 0;
    if (time <= timestampMs) low = middle;
    else high = middle - 1;
  }
  return low;
}
