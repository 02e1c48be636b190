// RocketMQ's {storePathRootDir}/checkpoint (StoreCheckpoint): one OS page (4,096 bytes) holding
// physicMsgTimestamp at byte 0, logicsMsgTimestamp at 8 and indexMsgTimestamp at 16 (big-endian
// int64 ms; RocketMQ 5 adds masterFlushedOffset at 24 and confirmPhyOffset at 32, left 0 here).
// Written with the broker's durable applied point (durable-state.ts), from the same entry N: the
// store time of the last message at or before N for the commit log and the consume queues (both
// are durable up to N when it is written), and the end time of the last index file as of N. The
// broker itself restarts from config/dledgerState.json; this file is for tools that read RocketMQ's.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../../store/fs-util.js';

export const STORE_CHECKPOINT_FILE = 'checkpoint';
const PAGE_BYTES = 4096;

export interface StoreCheckpointTimes {
  readonly physicMsgTimestampMs: number;
  readonly logicsMsgTimestampMs: number;
  readonly indexMsgTimestampMs: number;
}

export function writeStoreCheckpoint(rootDir: string, times: StoreCheckpointTimes): void {
  const page = Buffer.alloc(PAGE_BYTES);
  page.writeBigInt64BE(BigInt(times.physicMsgTimestampMs), 0);
  page.writeBigInt64BE(BigInt(times.logicsMsgTimestampMs), 8);
  page.writeBigInt64BE(BigInt(times.indexMsgTimestampMs), 16);
  writeFileDurably(path.join(rootDir, STORE_CHECKPOINT_FILE), page);
}

/** The file's times; null when there is none or it is shorter than the three fields. */
export function readStoreCheckpoint(rootDir: string): StoreCheckpointTimes | null {
  const filePath = path.join(rootDir, STORE_CHECKPOINT_FILE);
  if (!fs.existsSync(filePath)) return null;
  const bytes = fs.readFileSync(filePath);
  if (bytes.length < 24) return null;
  return {
    physicMsgTimestampMs: Number(bytes.readBigInt64BE(0)),
    logicsMsgTimestampMs: Number(bytes.readBigInt64BE(8)),
    indexMsgTimestampMs: Number(bytes.readBigInt64BE(16)),
  };
}
