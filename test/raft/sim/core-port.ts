// The one place where the simulator meets the Raft core's API: everything else in the simulator
// talks to a SimCore, so a change of the core's shape is absorbed here.
import type {
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  RaftStatus,
  ReadIndexResult,
  Ready,
  TransferResult,
} from '../../../src/raft/types.js';
import type { MemoryRaftStorage } from '../../../src/raft/memory-storage.js';
import type { Prng } from '../../../src/util/prng.js';

export interface SimCore {
  tick(): void;
  step(message: Message): void;
  propose(data: readonly Uint8Array[]): ProposeResult;
  readIndex(requestCtx: string): ReadIndexResult;
  transferLeadership(to: NodeId): TransferResult;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  onPersisted(readyNumber: number): void;
  onApplied(appliedIndex: number): void;
  status(): RaftStatus;
  checkInvariants(): void;
}

export type SimCoreFactory = (config: RaftConfig, storage: MemoryRaftStorage, prng: Prng, appliedIndex: number) => SimCore;
