// The broker's durable applied point: {storePathRootDir}/config/dledgerState.json, written after
// the consume queues and index files holding every entry up to `appliedIndex` are flushed (and the
// commit log is durable up to it). It plays the part of RocketMQ's checkpoint file plus its
// config/*.json (topics, consumer offsets): the replicated state as of appliedIndex, so a restart
// loads it, maps the consume queues and re-applies only the entries after appliedIndex.
//
// Format: the first line is the CRC32 (hex) of the rest, the rest is JSON. The state part is the
// stateCheckpoint command's shape (commands.ts), parsed by the same validation.
import fs from 'node:fs';
import path from 'node:path';
import { crc32Of } from '../../store/crc.js';
import { writeFileDurably } from '../../store/fs-util.js';
import { CommandFormatError, decodeCommand, type StateCheckpoint } from './commands.js';

export const DURABLE_STATE_FILE = path.join('config', 'dledgerState.json');

/** Where the index service stood at appliedIndex (IndexService.mark()). */
export interface IndexMark {
  /** Index file names that existed, oldest first. */
  readonly files: readonly string[];
  /** The last file's 40-byte header as it was (hex). */
  readonly lastHeader: string;
}

export interface DurableBrokerState {
  /** The state as of appliedIndex (capturedAt = appliedIndex; queues carry maxOffset). */
  readonly state: StateCheckpoint;
  /** Term and position of entry appliedIndex, checked against the recovered log. */
  readonly term: number;
  readonly pos: number;
  /** [topic, queueId, minOffset] of every queue. */
  readonly minOffsets: ReadonlyArray<readonly [string, number, number]>;
  /** The last state checkpoint applied (retention's floor). */
  readonly lastCheckpoint: { readonly index: number; readonly capturedAt: number } | null;
  readonly index: IndexMark | null;
}

export class DurableStateError extends Error {
  override name = 'DurableStateError';
}

export function saveDurableState(rootDir: string, saved: DurableBrokerState): void {
  const filePath = path.join(rootDir, DURABLE_STATE_FILE);
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  const body = Buffer.from(JSON.stringify({ version: 1, ...saved }));
  writeFileDurably(filePath, Buffer.concat([Buffer.from(`${crc32Of(body).toString(16)}\n`), body]));
}

/** Forget the durable point (the state is about to be rebuilt from elsewhere). */
export function removeDurableState(rootDir: string): void {
  const filePath = path.join(rootDir, DURABLE_STATE_FILE);
  if (!fs.existsSync(filePath)) return;
  fs.rmSync(filePath);
  const fd = fs.openSync(path.dirname(filePath), 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The saved state, null when there is none; DurableStateError when it cannot be trusted. */
export function loadDurableState(rootDir: string): DurableBrokerState | null {
  const filePath = path.join(rootDir, DURABLE_STATE_FILE);
  if (!fs.existsSync(filePath)) return null;
  const bytes = fs.readFileSync(filePath);
  const newline = bytes.indexOf(0x0a);
  const body = newline < 0 ? Buffer.alloc(0) : bytes.subarray(newline + 1);
  if (newline < 0 || bytes.subarray(0, newline).toString() !== crc32Of(body).toString(16)) throw new DurableStateError(`${filePath}: CRC mismatch`);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body.toString()) as Record<string, unknown>;
  } catch (error) {
    throw new DurableStateError(`${filePath}: ${(error as Error).message}`);
  }
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  let state: StateCheckpoint;
  try {
    const command = decodeCommand(Buffer.from(JSON.stringify(value['state'])));
    if (command.type !== 'stateCheckpoint') throw new CommandFormatError('not a state');
    state = command;
  } catch (error) {
    throw new DurableStateError(`${filePath}: state: ${(error as Error).message}`);
  }
  const { term, pos, minOffsets, lastCheckpoint, index } = value;
  if (value['version'] !== 1 || !isCount(term) || !isCount(pos) || !Array.isArray(minOffsets)) throw new DurableStateError(`${filePath}: bad version, term, pos or minOffsets`);
  for (const entry of minOffsets as unknown[]) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !isCount(entry[1]) || !isCount(entry[2])) throw new DurableStateError(`${filePath}: bad minOffsets entry`);
  }
  const checkpoint = lastCheckpoint as { index?: unknown; capturedAt?: unknown } | null;
  if (checkpoint !== null && (typeof checkpoint !== 'object' || !Number.isSafeInteger(checkpoint.index) || !Number.isSafeInteger(checkpoint.capturedAt))) throw new DurableStateError(`${filePath}: bad lastCheckpoint`);
  const mark = index as { files?: unknown; lastHeader?: unknown } | null;
  if (mark !== null && (typeof mark !== 'object' || !Array.isArray(mark.files) || !mark.files.every((f) => typeof f === 'string' && /^[0-9_]+$/.test(f)) || typeof mark.lastHeader !== 'string')) throw new DurableStateError(`${filePath}: bad index mark`);
  return {
    state,
    term,
    pos,
    minOffsets: minOffsets as Array<[string, number, number]>,
    lastCheckpoint: checkpoint as DurableBrokerState['lastCheckpoint'],
    index: mark as IndexMark | null,
  };
}
