// The replicated broker state: DLedgerServer calls apply() for every committed entry, in log
// order, on every member. Messages are indexed into consume queues; commands (commands.ts) update
// the topic table and the consumer offsets. Because followers run the same apply over the same
// bytes, they hold the same queues, topics and offsets, and a new leader serves at once.
//
// apply() must be deterministic: it never reads the clock or local config, and an entry it cannot
// use (malformed bytes, an invalid command) is skipped identically everywhere and logged.
import type { CommittedEntry, StateMachine } from '../../node/server.js';
import { assert } from '../../util/assert.js';
import { decodeMessage, javaStringHashCode, MessageFormatError, parseMessageProperties, type StoredMessage } from '../message-codec.js';
import { attachedCommandOf } from './attached-command.js';
import { BROKER_STATE_TOPIC, type BrokerCommand, CommandFormatError, decodeCommand, type StateCheckpoint } from './commands.js';
import type { DurableBrokerState } from './durable-state.js';
import { type ConsumeQueue, type ConsumeQueueStore, MemoryConsumeQueueStore } from './consume-queue.js';
import type { TopicConfig } from './topic-config.js';

/** Commands held while restoring, at most (checkpoints come every cleanResourceInterval). */
const RESTORE_BUFFERED_COMMANDS_MAX = 1_000_000;

/** The "Raft index" of a message that lives in the classic commit log (classic-files.ts). */
export const CLASSIC_LOG_INDEX = -1;

export type ApplyResult =
  | { readonly kind: 'message'; readonly topic: string; readonly queueId: number; readonly queueOffset: number; readonly physicalOffset: number }
  | { readonly kind: 'command'; readonly command: BrokerCommand }
  | { readonly kind: 'skipped'; readonly reason: string };

export interface BrokerStateListener {
  /** A message became consumable at `queueOffset` of (topic, queueId) (long polling wakes on it). */
  onMessage?(topic: string, queueId: number, queueOffset: number): void;
  /** The same message with its parsed properties (the index service keys it by KEYS and UNIQ_KEY). */
  onStoredMessage?(message: StoredMessage, properties: ReadonlyMap<string, string>): void;
  /** The topic table changed (the broker re-registers with the name server). */
  onTopicsChanged?(): void;
}

/**
 * Replicated state beyond topics, offsets and queues, kept by another module (the gRPC endpoints,
 * POP consumption, transactions): its commands travel as `{type: 'extension', extension, body}`,
 * its snapshot rides in every state checkpoint. Like apply(), every method must be deterministic.
 */
export interface StateExtension {
  /** Apply one command body (untrusted JSON: an invalid one is ignored, the same way on every member). */
  apply(body: unknown, index: number): void;
  /** The extension's state for a checkpoint (JSON-serialisable). */
  snapshot(): unknown;
  /** Replace the state by a checkpoint's snapshot (undefined: the checkpoint had none). */
  restore(snapshot: unknown): void;
  /** Forget everything (the log is rebuilt from a later start). */
  clear(): void;
  /** Given at registration: the consumer offsets, which an extension's apply may move (POP acks do). */
  attach?(host: ExtensionHost): void;
}

/** What an extension's apply may read and change of the broker state (deterministically, inside apply). */
export interface ExtensionHost {
  consumerOffset(group: string, topic: string, queueId: number): number | null;
  commitOffset(group: string, topic: string, queueId: number, offset: number): void;
}

export interface BrokerStateStats {
  messages: number;
  commands: number;
  skipped: number;
  /** Messages whose stored QUEUEOFFSET differed from their place in the queue (a leader bug). */
  queueOffsetMismatches: number;
}

export class BrokerState implements StateMachine {
  private readonly queues = new Map<string, Map<number, ConsumeQueue>>();
  private readonly topics = new Map<string, TopicConfig>();
  /** RocketMQ's ConsumerOffsetManager table: "topic@group" -> queueId -> next offset to consume. */
  private readonly offsets = new Map<string, Map<number, number>>();
  private readonly listeners: BrokerStateListener[] = [];
  private readonly extensions = new Map<string, StateExtension>();
  // Invariant: entries are applied in strictly increasing index order.
  private appliedIndex = -1;
  /** Bumped on every topic change; the name server compares it (DataVersion.counter). */
  topicsVersion = 0;
  /**
   * Set while the log this state is rebuilt from starts after entry 0 (retention deleted the
   * beginning): messages are indexed at their stored QUEUEOFFSET, commands are held until the
   * first state checkpoint, which restores what the deleted entries held; null otherwise.
   */
  // Invariant: non-null only until the first stateCheckpoint applied after beginFromCompactedLog.
  private restoring: { readonly commands: Array<{ readonly index: number; readonly command: BrokerCommand }> } | null = null;
  /** The last state checkpoint applied: retention may delete entries up to its capturedAt. */
  lastCheckpoint: { readonly index: number; readonly capturedAt: number } | null = null;
  readonly stats: BrokerStateStats = { messages: 0, commands: 0, skipped: 0, queueOffsetMismatches: 0 };

  constructor(
    private readonly log: (line: string) => void = () => undefined,
    /** Where the consume queues live (the DLedger broker: mapped files under consumequeue/). */
    private readonly queueStore: ConsumeQueueStore = new MemoryConsumeQueueStore(),
  ) {}

  /** Make every consume-queue unit written so far durable (the broker's flush timer). */
  flushQueues(): Promise<void> {
    return this.queueStore.flush();
  }

  /** Unmap the consume queues (after the last flush): their offsets still answer, their units not. */
  closeQueues(): void {
    this.queueStore.close();
  }

  addListener(listener: BrokerStateListener): void {
    this.listeners.push(listener);
  }

  /** Register a state extension before the first entry is applied (every member registers the same ones). */
  registerExtension(name: string, extension: StateExtension): void {
    assert(this.appliedIndex === -1 && !this.extensions.has(name), `extension ${name} registered twice or after entry ${this.appliedIndex}`);
    this.extensions.set(name, extension);
    extension.attach?.({ consumerOffset: (g, t, q) => this.consumerOffset(g, t, q), commitOffset: (group, topic, queueId, offset) => this.applyCommand({ type: 'commitOffsets', group, offsets: [{ topic, queueId, offset }] }, this.appliedIndex) });
  }

  /** Index of the last entry applied (-1 before any). */
  get lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  /** The log starts at `firstIndex` > 0: rebuild from the next state checkpoint (see `restoring`). */
  beginFromCompactedLog(firstIndex: number): void {
    assert(this.appliedIndex < firstIndex, `beginFromCompactedLog(${firstIndex}) after entry ${this.appliedIndex}`);
    this.queues.clear();
    this.queueStore.removeAll();
    this.topics.clear();
    this.offsets.clear();
    for (const extension of this.extensions.values()) extension.clear();
    this.topicsChanged();
    this.appliedIndex = firstIndex - 1;
    this.restoring = { commands: [] };
    this.log(`the log starts at entry ${firstIndex}: topics, offsets and queue ends come from the next state checkpoint`);
  }

  /** Restoring (see beginFromCompactedLog) and not yet at a state checkpoint. */
  get isRestoring(): boolean {
    return this.restoring !== null;
  }

  /** The state as of the last applied entry, as the command the master writes into the log. */
  checkpoint(): StateCheckpoint {
    const queues: Array<readonly [string, number, number]> = [];
    for (const [topic, byId] of this.queues) for (const [queueId, queue] of byId) queues.push([topic, queueId, queue.maxOffset]);
    const offsets: Array<readonly [string, string, ReadonlyArray<readonly [number, number]>]> = [];
    for (const [key, table] of this.offsets) {
      const at = key.indexOf('@');
      offsets.push([key.slice(0, at), key.slice(at + 1), [...table]]);
    }
    const extensions: Record<string, unknown> = {};
    for (const [name, extension] of this.extensions) extensions[name] = extension.snapshot();
    return { type: 'stateCheckpoint', capturedAt: this.appliedIndex, topics: [...this.topics.values()], offsets, queues, extensions };
  }

  /**
   * What the durable point saves (durable-state.ts): the state as of the last applied entry and
   * each queue's minimum; null while restoring (the state is not whole until its checkpoint).
   */
  captureDurable(): Pick<DurableBrokerState, 'state' | 'minOffsets' | 'lastCheckpoint'> | null {
    if (this.restoring !== null || this.appliedIndex < 0) return null;
    const minOffsets: Array<readonly [string, number, number]> = [];
    for (const [topic, byId] of this.queues) for (const [queueId, queue] of byId) minOffsets.push([topic, queueId, queue.minOffset]);
    return { state: this.checkpoint(), minOffsets, lastCheckpoint: this.lastCheckpoint };
  }

  /**
   * Restart from a durable point: topics, offsets and the last checkpoint as saved, every consume
   * queue mapped from its files with units [min, max) (later units cut). Throws when a queue's
   * files do not hold them; the caller then rebuilds (removeAllQueues, replay from the start).
   */
  restoreDurable(saved: DurableBrokerState): void {
    assert(this.appliedIndex === -1 && this.queues.size === 0, `restoreDurable after entry ${this.appliedIndex}`);
    const minOf = new Map(saved.minOffsets.map(([topic, queueId, min]) => [`${queueId}@${topic}`, min]));
    for (const [topic, queueId, maxOffset] of saved.state.queues) {
      const queue = this.queueStore.load(topic, queueId, Math.min(maxOffset, minOf.get(`${queueId}@${topic}`) ?? maxOffset), maxOffset);
      let byId = this.queues.get(topic);
      if (byId === undefined) this.queues.set(topic, (byId = new Map()));
      byId.set(queueId, queue);
    }
    this.queueStore.finishLoad();
    for (const topic of saved.state.topics) this.topics.set(topic.topicName, topic);
    for (const [topic, group, table] of saved.state.offsets) this.offsets.set(`${topic}@${group}`, new Map(table));
    for (const [name, extension] of this.extensions) extension.restore(saved.state.extensions?.[name]);
    this.lastCheckpoint = saved.lastCheckpoint;
    this.appliedIndex = saved.state.capturedAt;
    this.topicsChanged();
  }

  /** Drop every queue and its files (a restore that failed half-way, before a rebuild). */
  removeAllQueues(): void {
    assert(this.appliedIndex === -1 || this.restoring !== null, 'removeAllQueues on a live state');
    this.queues.clear();
    this.queueStore.removeAll();
    this.topics.clear();
    this.offsets.clear();
    for (const extension of this.extensions.values()) extension.clear();
    this.lastCheckpoint = null;
    this.appliedIndex = -1;
  }

  apply(entry: CommittedEntry): ApplyResult {
    assert(entry.index > this.appliedIndex, `entry ${entry.index} applied after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    return this.applyStored(entry.body, entry.index);
  }

  /**
   * Index a message of the classic (pre-DLedger) commit log, verified by its reader: every message
   * of a classic broker, and after an upgrade the old messages, before any Raft entry is applied
   * (CLASSIC_LOG_INDEX in logs; their units point below the DLedger log's dividedOffset).
   */
  applyClassic(body: Uint8Array): ApplyResult {
    assert(this.appliedIndex === -1, `a classic message indexed after Raft entry ${this.appliedIndex}`);
    return this.applyStored(body, CLASSIC_LOG_INDEX);
  }

  private applyStored(body: Uint8Array, index: number): ApplyResult {
    let message;
    try {
      // The store verified the entry's CRC over these bytes; BODYCRC need not be recomputed.
      message = decodeMessage(body, 0, { verifyBodyCrc: false });
      if (message.totalSize !== body.length) throw new MessageFormatError(`TOTALSIZE ${message.totalSize} but the entry holds ${body.length} bytes`);
    } catch (error) {
      if (!(error instanceof MessageFormatError)) throw error;
      return this.skip(index, `not a stored message: ${error.message}`);
    }
    if (message.topic === BROKER_STATE_TOPIC) {
      let command: BrokerCommand;
      try {
        command = decodeCommand(message.body);
      } catch (error) {
        if (!(error instanceof CommandFormatError)) throw error;
        return this.skip(index, error.message);
      }
      if (command.type === 'stateCheckpoint') this.applyCheckpoint(command, index);
      else this.applyOrHold(command, index);
      this.stats.commands++;
      return { kind: 'command', command };
    }
    const queue = this.queueFor(message.topic, message.queueId);
    // Rebuilding from a compacted log: a queue's first message kept says where the queue stands.
    if (this.restoring !== null && queue.minOffset === queue.maxOffset && message.queueOffset > queue.maxOffset) queue.restartAt(message.queueOffset);
    const properties = parseMessageProperties(message.properties);
    const tags = properties.get('TAGS');
    const tagsCode = tags === undefined ? 0 : javaStringHashCode(tags);
    const queueOffset = queue.append(message.physicalOffset, message.totalSize, tagsCode);
    if (queueOffset !== message.queueOffset) {
      // Indexed where it landed (every member does the same); the consumer will see the stored
      // QUEUEOFFSET, so this must not happen: the leader's allocator prevents it.
      this.stats.queueOffsetMismatches++;
      this.log(`entry ${index}: ${message.topic}-${message.queueId} message stored with QUEUEOFFSET ${message.queueOffset} indexed at ${queueOffset}`);
    }
    this.stats.messages++;
    // A command carried by this message (attached-command.ts): applied in the same entry, as a command entry at this index.
    const attached = attachedCommandOf(properties);
    if (typeof attached === 'string') this.log(`entry ${index}: ${attached}; the message is indexed, the command ignored`);
    else if (attached !== null) this.applyOrHold(attached, index);
    for (const listener of this.listeners) {
      listener.onMessage?.(message.topic, message.queueId, queueOffset);
      listener.onStoredMessage?.(message, properties);
    }
    return { kind: 'message', topic: message.topic, queueId: message.queueId, queueOffset, physicalOffset: message.physicalOffset };
  }

  /** Apply a (non-checkpoint) command, or hold it while restoring until the first checkpoint. */
  private applyOrHold(command: BrokerCommand, index: number): void {
    if (this.restoring !== null) {
      assert(this.restoring.commands.length < RESTORE_BUFFERED_COMMANDS_MAX, `${RESTORE_BUFFERED_COMMANDS_MAX} commands after the log start and no state checkpoint`);
      this.restoring.commands.push({ index, command });
    } else this.applyCommand(command, index);
  }

  private skip(index: number, reason: string): ApplyResult {
    this.stats.skipped++;
    this.log(`entry ${index} skipped: ${reason}`);
    return { kind: 'skipped', reason };
  }

  /**
   * Restoring: the checkpoint's topics and offsets replace what was rebuilt, commands held since
   * the entry it was captured at are applied on top, and queues with no message kept continue
   * at the checkpoint's next offset. Otherwise (the whole history was applied) nothing changes.
   */
  private applyCheckpoint(checkpoint: StateCheckpoint, index: number): void {
    this.lastCheckpoint = { index, capturedAt: checkpoint.capturedAt };
    const restoring = this.restoring;
    if (restoring === null) return;
    this.restoring = null;
    this.topics.clear();
    for (const topic of checkpoint.topics) this.topics.set(topic.topicName, topic);
    this.offsets.clear();
    for (const [topic, group, table] of checkpoint.offsets) this.offsets.set(`${topic}@${group}`, new Map(table));
    for (const [name, extension] of this.extensions) extension.restore(checkpoint.extensions?.[name]);
    for (const held of restoring.commands) if (held.index > checkpoint.capturedAt) this.applyCommand(held.command, held.index);
    for (const [topic, queueId, maxOffset] of checkpoint.queues) {
      const queue = this.queueFor(topic, queueId);
      if (queue.minOffset === queue.maxOffset && maxOffset > queue.maxOffset) queue.restartAt(maxOffset);
    }
    this.topicsChanged();
    this.log(`state restored from the checkpoint at entry ${index} (captured at ${checkpoint.capturedAt}): ${checkpoint.topics.length} topics, ${checkpoint.offsets.length} offset tables, ${checkpoint.queues.length} queues`);
  }

  private applyCommand(command: BrokerCommand, index: number): void {
    switch (command.type) {
      case 'stateCheckpoint':
        return;
      case 'extension': {
        const extension = this.extensions.get(command.extension);
        if (extension === undefined) this.log(`entry ${index}: command of unknown extension ${command.extension} ignored`);
        else extension.apply(command.body, index);
        return;
      }
      case 'upsertTopic':
        this.topics.set(command.topic.topicName, command.topic);
        this.topicsChanged();
        return;
      case 'deleteTopic':
        // Queues stay: their messages are still in the commit log, and a re-created topic continues them.
        if (this.topics.delete(command.topicName)) this.topicsChanged();
        return;
      case 'deleteGroupOffsets': {
        // DELETE_SUBSCRIPTIONGROUP with cleanOffset (ConsumerOffsetManager.removeOffset).
        const suffix = `@${command.group}`;
        for (const key of [...this.offsets.keys()]) if (key.endsWith(suffix)) this.offsets.delete(key);
        return;
      }
      case 'commitOffsets':
        for (const { topic, queueId, offset } of command.offsets) {
          const key = `${topic}@${command.group}`;
          let table = this.offsets.get(key);
          if (table === undefined) this.offsets.set(key, (table = new Map()));
          table.set(queueId, offset);
        }
        return;
    }
  }

  private topicsChanged(): void {
    this.topicsVersion++;
    for (const listener of this.listeners) listener.onTopicsChanged?.();
  }

  private queueFor(topic: string, queueId: number): ConsumeQueue {
    let byId = this.queues.get(topic);
    if (byId === undefined) this.queues.set(topic, (byId = new Map()));
    let queue = byId.get(queueId);
    if (queue === undefined) byId.set(queueId, (queue = this.queueStore.open(topic, queueId)));
    return queue;
  }

  // ---------------------------------------------------------------- reads

  consumeQueue(topic: string, queueId: number): ConsumeQueue | null {
    return this.queues.get(topic)?.get(queueId) ?? null;
  }

  /** Next queue offset of (topic, queueId): 0 for a queue that has no message yet. */
  maxOffset(topic: string, queueId: number): number {
    return this.consumeQueue(topic, queueId)?.maxOffset ?? 0;
  }

  minOffset(topic: string, queueId: number): number {
    return this.consumeQueue(topic, queueId)?.minOffset ?? 0;
  }

  /**
   * Retention moved the commit log's start: every consume queue drops the units pointing below
   * `commitLogOffset` (the physical offset, pos + 48, of the first entry kept) and its minOffset
   * moves to the first unit kept (GET_MIN_OFFSET answers it; a pull below gets OFFSET_TOO_SMALL).
   * Not replicated: each member calls it for its own log start. Returns the units dropped.
   */
  truncateBelow(commitLogOffset: number): number {
    let dropped = 0;
    for (const byId of this.queues.values()) for (const queue of byId.values()) dropped += queue.truncateBelow(commitLogOffset);
    return dropped;
  }

  /** The smallest commit-log offset a consume queue still points at (null when none holds a unit). */
  minCommitLogOffset(): number | null {
    let min: number | null = null;
    for (const byId of this.queues.values()) {
      for (const queue of byId.values()) {
        const offset = queue.minCommitLogOffset;
        if (offset !== null && (min === null || offset < min)) min = offset;
      }
    }
    return min;
  }

  topicConfig(topicName: string): TopicConfig | null {
    return this.topics.get(topicName) ?? null;
  }

  topicConfigs(): ReadonlyMap<string, TopicConfig> {
    return this.topics;
  }

  /** The committed offset of a consumer group on a queue, or null if it never committed one. */
  consumerOffset(group: string, topic: string, queueId: number): number | null {
    return this.offsets.get(`${topic}@${group}`)?.get(queueId) ?? null;
  }

  /** Every "topic@group" with its per-queue offsets (admin consumerProgress). */
  consumerOffsets(): ReadonlyMap<string, ReadonlyMap<number, number>> {
    return this.offsets;
  }
}
