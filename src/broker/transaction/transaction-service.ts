// Transactional messages on the master (RocketMQ's TransactionalMessageServiceImpl, its bridge,
// EndTransactionProcessor and TransactionalMessageCheckService), over the replicated table of
// transaction-state.ts:
//  - prepare: the producer's message goes to RMQ_SYS_TRANS_HALF_TOPIC queue 0 with REAL_TOPIC,
//    REAL_QID (and PGROUP), its transaction type reset to NOT_TYPE: no consumer sees it;
//  - end (END_TRANSACTION / gRPC EndTransaction): commit writes the real message to its topic
//    (type COMMIT, PREPAREDTRANSACTIONOFFSET = the half's physical offset: that entry also ends the
//    half message everywhere), then an op message "d"; rollback writes the op message only. One
//    end per half message at a time on this master; an end repeated after the end is answered
//    from the table (never a second commit);
//  - the check loop, on the master only, every transactionCheckInterval: a half message older than
//    transactionTimeOut (or its CHECK_IMMUNITY_TIME_IN_SECONDS) gets its check count raised through
//    the Raft log, then a producer is asked: CHECK_TRANSACTION_STATE (39, oneway) on the connection
//    of a producer of its PGROUP, or a Telemetry RecoverOrphanedTransactionCommand to a gRPC
//    producer of its topic. After transactionCheckMax checks it is discarded into
//    TRANS_CHECK_MAX_TIME_TOPIC, as RocketMQ does.
import { createHash } from 'node:crypto';
import { RequestCode } from '../../remoting/codes.js';
import { createRequest, FLAG_ONEWAY } from '../../remoting/command.js';
import type { TelemetrySessions } from '../../grpc/telemetry-sessions.js';
import { timestampOf } from '../../grpc/messaging-proto.js';
import type { BrokerConfig } from '../config.js';
import type { BrokerCommitLog, MessageToPut, PutResult } from '../dledger-commit-log.js';
import { createMessageId, decodeMessage, encodeMessage, formatMessageProperties, ipv4Bytes, MessageSysFlag, parseMessageProperties, type HostAddress, type StoredMessage } from '../message-codec.js';
import type { ProducerManager } from '../producer-manager.js';
import { scheduleIfDelayed } from '../schedule/delay-levels.js';
import { PERM_READ_WRITE } from '../state/topic-config.js';
import { CHECK_MAX_TIME_TOPIC, HALF_TOPIC, OP_HALF_TOPIC, REMOVE_TAG, TRANSACTION_EXTENSION, TRANSACTION_TYPE_MASK, TransactionState, TransactionType, type HalfMessage, type TransactionOutcome } from './transaction-state.js';

/** Half messages looked at per pass at most (the rest wait for the next pass). */
const CHECKS_PER_PASS_MAX = 2000;
/** Properties only the broker sets on a half message (cleared when it is committed). */
const HALF_ONLY_PROPERTIES = ['REAL_TOPIC', 'REAL_QID', 'TRAN_MSG'];

export interface TransactionServiceOptions {
  readonly config: BrokerConfig;
  readonly commitLog: BrokerCommitLog;
  readonly producers: ProducerManager;
  /** brokerIP1:listenPort (STOREHOST of the offset message ids sent to producers). */
  readonly brokerAddr: string;
  readonly log: (line: string) => void;
}

export interface EndRequest {
  /** The producer group of an END_TRANSACTION; null for gRPC (its producers have no group). */
  readonly producerGroup: string | null;
  readonly tranStateTableOffset: number;
  readonly commitLogOffset: number;
  readonly resolution: 'commit' | 'rollback';
  readonly fromTransactionCheck: boolean;
  /** The client's message id (UNIQ_KEY); checked when given. */
  readonly messageId: string | null;
}

export type EndResult =
  | { readonly ok: true; readonly remark: string; readonly put: PutResult | null }
  | { readonly ok: false; readonly kind: 'not-master' | 'not-found' | 'mismatch' | 'busy' | 'ended-otherwise'; readonly remark: string };

export class TransactionService {
  readonly state: TransactionState;
  private readonly storeHost: HostAddress;
  /** Half queue offsets being ended or discarded on this master (one at a time each). */
  private readonly inFlight = new Set<number>();
  /** When this master last asked about a half message (local; the count is replicated). */
  private readonly lastAskedMs = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private telemetry: TelemetrySessions | null = null;
  readonly stats = { prepared: 0, committed: 0, rolledBack: 0, checksSent: 0, checksUnanswerable: 0, discarded: 0 };

  constructor(private readonly options: TransactionServiceOptions) {
    this.state = new TransactionState(options.commitLog.state, options.log);
    const colon = options.brokerAddr.lastIndexOf(':');
    this.storeHost = { ip: ipv4Bytes(options.brokerAddr.slice(0, colon)), port: Number(options.brokerAddr.slice(colon + 1)) };
  }

  /** The gRPC endpoint's Telemetry sessions (orphaned-transaction recovery commands go there). */
  useTelemetry(telemetry: TelemetrySessions): void {
    this.telemetry = telemetry;
  }

  // ---------------------------------------------------------------- prepare

  /**
   * Store `message` as a half message; its PutResult names the half's place (msgId = offset
   * message id, queueOffset = tranStateTableOffset). Throws a PutMessageError like putMessages,
   * or TransactionRefusal when transactions are refused or too many are pending.
   */
  async prepare(message: MessageToPut, producerGroup: string | null): Promise<PutResult> {
    const config = this.options.config.transaction;
    if (config.rejectTransactionMessage) throw new TransactionRefusal(`the broker[${this.options.brokerAddr}] sending transaction message is forbidden (rejectTransactionMessage)`);
    if (this.state.size >= config.halfMessagesMax) throw new TransactionRefusal(`${this.state.size} half messages pending (transactionHalfMessagesMax=${config.halfMessagesMax}): transactional send refused`);
    const properties = parseMessageProperties(message.properties);
    properties.set('REAL_TOPIC', message.topic);
    properties.set('REAL_QID', String(message.queueId));
    properties.set('TRAN_MSG', 'true');
    if (producerGroup !== null && !properties.has('PGROUP')) properties.set('PGROUP', producerGroup);
    await this.ensureSystemTopic(HALF_TOPIC);
    const [result] = await this.options.commitLog.putMessages([{
      ...message, topic: HALF_TOPIC, queueId: 0,
      sysFlag: message.sysFlag & ~TRANSACTION_TYPE_MASK,
      properties: formatMessageProperties(properties),
    }]);
    this.stats.prepared++;
    return result as PutResult;
  }

  /**
   * The half, op and check-max topics get a topic config (1 queue, read-write) on first use, as
   * RocketMQ's TransactionalMessageBridge and createTopicOfTranCheckMaxTime create them: tools
   * can then read them like any topic.
   */
  private async ensureSystemTopic(topicName: string): Promise<void> {
    const commitLog = this.options.commitLog;
    if (commitLog.state.topicConfig(topicName) !== null) return;
    await commitLog.proposeCommand({ type: 'upsertTopic', topic: { topicName, readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  }

  // ---------------------------------------------------------------- end

  async end(request: EndRequest): Promise<EndResult> {
    const commitLog = this.options.commitLog;
    if (!commitLog.isWritable()) return { ok: false, kind: 'not-master', remark: `Message store is slave mode, so end transaction is forbidden (${commitLog.role.role}, leader ${commitLog.role.leaderId ?? 'unknown'})` };
    const half = this.state.byPhysicalOffset(request.commitLogOffset);
    if (half === null) {
      const outcome: TransactionOutcome | null = this.state.outcomeOf(request.commitLogOffset);
      if (outcome === request.resolution) return { ok: true, remark: `the transaction was already ${outcome === 'commit' ? 'committed' : 'rolled back'}`, put: null };
      if (outcome !== null) return { ok: false, kind: 'ended-otherwise', remark: `the transaction already ended: ${outcome}` };
      return { ok: false, kind: 'not-found', remark: 'Find prepared transaction message failed' };
    }
    if (request.producerGroup !== null && half.producerGroup !== null && request.producerGroup !== half.producerGroup) return { ok: false, kind: 'mismatch', remark: 'The producer group wrong' };
    if (request.tranStateTableOffset !== half.queueOffset) return { ok: false, kind: 'mismatch', remark: 'The transaction state table offset wrong' };
    if (request.messageId !== null && request.messageId.toUpperCase() !== half.uniqKey.toUpperCase()) return { ok: false, kind: 'mismatch', remark: `message id ${request.messageId} is not the half message's (${half.uniqKey})` };
    if (this.inFlight.has(half.queueOffset)) return { ok: false, kind: 'busy', remark: 'the transaction is being ended by another request' };
    this.inFlight.add(half.queueOffset);
    try {
      let put: PutResult | null = null;
      if (request.resolution === 'commit') {
        // The committed message is the decision (it ends the half message everywhere); the op
        // message after it only records the end as RocketMQ does, so its failure is logged, not answered.
        put = await this.writeCommitted(half);
        this.stats.committed++;
        await this.writeOp(half).catch((error: Error) => this.options.log(`transaction ${half.uniqKey} committed; its op message not written: ${error.message}`));
      } else {
        await this.writeOp(half);
        this.stats.rolledBack++;
      }
      this.options.log(`transaction ${half.uniqKey} (half offset ${half.queueOffset}) ${request.resolution === 'commit' ? 'committed' : 'rolled back'}${request.fromTransactionCheck ? ' after a check' : ''}`);
      return { ok: true, remark: '', put };
    } finally {
      this.inFlight.delete(half.queueOffset);
    }
  }

  /** The half message's stored bytes, decoded (null if retention deleted them). */
  private readHalf(half: HalfMessage): StoredMessage | null {
    const bytes = this.options.commitLog.readByPhysicalOffset(half.physicalOffset);
    return bytes === null ? null : decodeMessage(bytes, 0, { verifyBodyCrc: false });
  }

  /** EndTransactionProcessor.endMessageTransaction + sendFinalMessage: the real message, visible from now on. */
  private async writeCommitted(half: HalfMessage): Promise<PutResult> {
    const stored = this.readHalf(half);
    if (stored === null) throw new TransactionRefusal(`the half message at ${half.physicalOffset} is no longer in the commit log`);
    const properties = parseMessageProperties(stored.properties);
    for (const name of HALF_ONLY_PROPERTIES) properties.delete(name);
    const put = scheduleIfDelayed({
      topic: half.realTopic, queueId: half.realQueueId, flag: stored.flag,
      sysFlag: (stored.sysFlag & ~(TRANSACTION_TYPE_MASK | MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6)) | TransactionType.COMMIT,
      bornTimestampMs: stored.bornTimestampMs, bornHost: stored.bornHost, reconsumeTimes: stored.reconsumeTimes, body: stored.body,
      properties: formatMessageProperties(properties), preparedTransactionOffset: half.physicalOffset,
    }, this.options.config.messageDelayLevelsMs.length);
    const [result] = await this.options.commitLog.putMessages([put]);
    return result as PutResult;
  }

  /** The op message (tag "d", body = the half queue offset) that ends a half message (rollback) or records its end. */
  private async writeOp(half: HalfMessage): Promise<void> {
    await this.ensureSystemTopic(OP_HALF_TOPIC);
    await this.options.commitLog.putMessages([{
      topic: OP_HALF_TOPIC, queueId: 0, flag: 0, sysFlag: 0, bornTimestampMs: Date.now(), bornHost: this.storeHost, reconsumeTimes: 0,
      body: Buffer.from(String(half.queueOffset), 'latin1'), properties: formatMessageProperties([['TAGS', REMOVE_TAG], ['WAIT', 'false']]),
    }]);
  }

  // ---------------------------------------------------------------- the check loop

  /** Runs while this broker is the master; called on every broker-role change. */
  setMaster(master: boolean): void {
    if (master && this.timer === null) {
      this.timer = setInterval(() => void this.checkPass(), this.options.config.transaction.checkIntervalMs);
      this.timer.unref();
    } else if (!master && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.lastAskedMs.clear();
    }
  }

  close(): void {
    this.setMaster(false);
  }

  /** One pass over the pending half messages (TransactionalMessageServiceImpl.check). */
  async checkPass(): Promise<void> {
    if (this.checking || !this.options.commitLog.isWritable()) return;
    this.checking = true;
    try {
      const config = this.options.config.transaction;
      const halves = this.state.pendingHalves();
      const pendingOffsets = new Set(halves.map((h) => h.queueOffset));
      for (const queueOffset of this.lastAskedMs.keys()) if (!pendingOffsets.has(queueOffset)) this.lastAskedMs.delete(queueOffset);
      for (const half of halves.slice(0, CHECKS_PER_PASS_MAX)) {
        if (!this.options.commitLog.isWritable()) return;
        const nowMs = Date.now();
        if (this.inFlight.has(half.queueOffset) || this.state.byQueueOffset(half.queueOffset) === null) continue;
        const ageMs = nowMs - half.bornTimestampMs;
        if (ageMs >= 0 && ageMs < (half.checkImmunityMs ?? config.timeoutMs)) continue;
        const asked = this.lastAskedMs.get(half.queueOffset);
        if (asked !== undefined && nowMs - asked < config.timeoutMs) continue;
        if (half.checkTimes >= config.checkMax) {
          await this.discard(half);
          continue;
        }
        await this.options.commitLog.proposeCommand({ type: 'extension', extension: TRANSACTION_EXTENSION, body: { op: 'checked', queueOffset: half.queueOffset, checkTimes: half.checkTimes + 1 } });
        this.lastAskedMs.set(half.queueOffset, nowMs);
        this.askProducer(half);
      }
    } catch (error) {
      // Lost leadership or a put that failed: the next pass (or master) continues from the replicated counts.
      this.options.log(`transaction check paused: ${(error as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  /** resolveDiscardMsg: the half message moves to TRANS_CHECK_MAX_TIME_TOPIC (that entry ends it everywhere). */
  private async discard(half: HalfMessage): Promise<void> {
    this.inFlight.add(half.queueOffset);
    try {
      const stored = this.readHalf(half);
      if (stored === null) {
        this.options.log(`half message ${half.uniqKey} (offset ${half.queueOffset}) checked ${half.checkTimes} times and no longer in the commit log: ended by an op message`);
        await this.writeOp(half);
      } else {
        await this.ensureSystemTopic(CHECK_MAX_TIME_TOPIC);
        await this.options.commitLog.putMessages([{
          topic: CHECK_MAX_TIME_TOPIC, queueId: 0, flag: stored.flag,
          sysFlag: stored.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6),
          bornTimestampMs: stored.bornTimestampMs, bornHost: stored.bornHost, reconsumeTimes: stored.reconsumeTimes,
          body: stored.body, properties: stored.properties, preparedTransactionOffset: half.physicalOffset,
        }]);
        this.options.log(`half message ${half.uniqKey} (offset ${half.queueOffset}) checked ${half.checkTimes} times (transactionCheckMax): discarded into ${CHECK_MAX_TIME_TOPIC}`);
      }
      this.stats.discarded++;
    } finally {
      this.inFlight.delete(half.queueOffset);
    }
  }

  /** Ask one producer for the state of `half`: remoting by its group first, else a gRPC producer of its topic. */
  private askProducer(half: HalfMessage): void {
    const stored = this.readHalf(half);
    if (stored === null) return;
    const connection = half.producerGroup === null ? null : this.options.producers.connectionOf(half.producerGroup, Date.now());
    if (connection !== null) {
      const request = createRequest(RequestCode.CHECK_TRANSACTION_STATE, {
        extFields: {
          tranStateTableOffset: half.queueOffset, commitLogOffset: half.physicalOffset, msgId: half.uniqKey, transactionId: half.uniqKey,
          offsetMsgId: createMessageId(this.storeHost, half.physicalOffset),
        },
        // MessageDecoder.encode of the half message with its real topic and queue.
        body: Buffer.from(encodeMessage({ ...stored, topic: half.realTopic, queueId: half.realQueueId })),
      });
      if (connection.send({ ...request, flag: request.flag | FLAG_ONEWAY })) {
        this.stats.checksSent++;
        return;
      }
    }
    const telemetry = this.telemetry;
    const producers = telemetry?.producersOf(half.realTopic) ?? [];
    if (telemetry !== null && producers.length > 0) {
      const clientId = producers[half.checkTimes % producers.length] as string;
      if (telemetry.send(clientId, { recoverOrphanedTransactionCommand: { message: pbMessageOf(stored, half), transactionId: createMessageId(this.storeHost, half.physicalOffset) } })) {
        this.stats.checksSent++;
        return;
      }
    }
    this.stats.checksUnanswerable++;
    this.options.log(`Check transaction failed, no producer online: group ${half.producerGroup ?? '(gRPC)'}, topic ${half.realTopic}, half message ${half.uniqKey}`);
  }
}

export class TransactionRefusal extends Error {
  override name = 'TransactionRefusal';
}

/** Properties that are system properties of a v2 message, not user properties. */
const SYSTEM_PROPERTIES = new Set(['TAGS', 'KEYS', 'UNIQ_KEY', 'REAL_TOPIC', 'REAL_QID', 'TRAN_MSG', 'PGROUP', '__SHARDINGKEY', 'WAIT', 'TRANSACTION_CHECK_TIMES', 'CHECK_IMMUNITY_TIME_IN_SECONDS', 'MSG_REGION', 'TRACE_ON', 'DELAY', 'TIMER_DELIVER_MS']);

function hostText(host: HostAddress): string {
  return `${[...host.ip].join('.')}:${host.port}`;
}

/** The half message as the v2 Message a RecoverOrphanedTransactionCommand carries (with its real topic). */
export function pbMessageOf(stored: StoredMessage, half: HalfMessage): Record<string, unknown> {
  const properties = parseMessageProperties(stored.properties);
  const userProperties: Record<string, string> = {};
  for (const [key, value] of properties) if (!SYSTEM_PROPERTIES.has(key)) userProperties[key] = value;
  const body = Buffer.from(stored.body);
  const tag = properties.get('TAGS');
  return {
    topic: { name: half.realTopic, resourceNamespace: '' },
    userProperties,
    systemProperties: {
      ...(tag === undefined ? {} : { tag }),
      keys: (properties.get('KEYS') ?? '').split(' ').filter((k) => k !== ''),
      messageId: half.uniqKey,
      bodyDigest: { type: 'MD5', checksum: createHash('md5').update(body).digest('hex').toUpperCase() },
      bodyEncoding: 'IDENTITY',
      messageType: 'TRANSACTION',
      bornTimestamp: timestampOf(stored.bornTimestampMs),
      bornHost: hostText(stored.bornHost),
      storeTimestamp: timestampOf(stored.storeTimestampMs),
      storeHost: hostText(stored.storeHost),
      queueId: half.realQueueId,
      queueOffset: half.queueOffset,
    },
    body,
  };
}
