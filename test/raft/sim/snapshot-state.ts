// What a simulated state machine puts in a snapshot: the applied index and term and the running
// digest of everything applied up to there (see digest.ts). JSON keeps it readable in traces;
// it is a few dozen bytes, so small chunk sizes still make snapshots travel in several chunks.
import type { SnapshotMeta } from '../../../src/raft/types.js';
import { CheckerName, SimViolation } from './violation.js';

export interface SnapshotState {
  readonly index: number;
  readonly term: number;
  readonly digest: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeSnapshotState(state: SnapshotState): Uint8Array {
  return encoder.encode(JSON.stringify(state));
}

/** Decodes and cross-checks a snapshot against its meta; a mismatch means the core mangled it. */
export function decodeSnapshotState(meta: SnapshotMeta, data: Uint8Array, nodeId: string, tick: number): SnapshotState {
  let state: SnapshotState;
  try {
    state = JSON.parse(decoder.decode(data)) as SnapshotState;
  } catch (error) {
    throw new SimViolation(
      CheckerName.StateMachineSafety,
      `${nodeId} got snapshot ${meta.index}/${meta.term} whose ${data.byteLength} bytes do not decode: ${String(error)}`,
      tick,
    );
  }
  if (state.index !== meta.index || state.term !== meta.term || data.byteLength !== meta.sizeBytes) {
    throw new SimViolation(
      CheckerName.StateMachineSafety,
      `${nodeId} got snapshot meta ${meta.index}/${meta.term} (${meta.sizeBytes} bytes) holding state ${state.index}/${state.term} (${data.byteLength} bytes)`,
      tick,
    );
  }
  return state;
}
