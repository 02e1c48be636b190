// A Java 4.9 transactional producer's remoting connection, for the transaction tests: its
// frames built to Java's encoding by test/remoting/fixtures/make-java-requests.cjs's encoder
// (HEART_BEAT with producerDataSet, SEND_MESSAGE with TRAN_MSG, END_TRANSACTION oneway or not),
// the broker's answers matched by opaque, and the broker's requests to it (CHECK_TRANSACTION_STATE)
// collected in `checks`. Not a test file itself.
import { createRequire } from 'node:module';
import net from 'node:net';
import { RequestCode } from '../../src/remoting/codes.js';
import type { RemotingCommand } from '../../src/remoting/command.js';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';

const require = createRequire(import.meta.url);
const java = require('../remoting/fixtures/make-java-requests.cjs') as {
  encodeFrame(code: number, opaque: number, fields: Array<[string, string | number | boolean | null]> | null, body: Buffer | null, flag?: number): { frame: Buffer };
  messageProperties2String(pairs: Array<[string, string]>): string;
};

export const GROUP = 'PG_TX';
export const TOPIC = 'TopicTx';
const PREPARED = 4;
export const COMMIT = 8;
export const ROLLBACK = 12;
export const NOT_TYPE = 0;

/** A Java producer's connection: requests it sends, answers it reads, and the broker's requests to it. */
export class JavaProducer {
  private readonly socket: net.Socket;
  private readonly decoder = new RemotingFrameDecoder();
  private readonly waiting = new Map<number, (answer: RemotingCommand) => void>();
  readonly checks: RemotingCommand[] = [];
  private opaque = 1000;

  constructor(addr: string) {
    const colon = addr.lastIndexOf(':');
    this.socket = net.connect({ host: addr.slice(0, colon), port: Number(addr.slice(colon + 1)) });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      for (const command of this.decoder.push(chunk)) {
        if ((command.flag & 1) === 1) this.waiting.get(command.opaque)?.(command);
        else this.checks.push(command);
      }
    });
  }

  /** fields in the Java header class's declaration order. */
  invoke(code: number, fields: Array<[string, string | number | boolean | null]> | null, body: Buffer | null = null): Promise<RemotingCommand> {
    const opaque = this.opaque++;
    const answer = new Promise<RemotingCommand>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to code ${code}`)), 10_000);
      this.waiting.set(opaque, (command) => {
        clearTimeout(timer);
        resolve(command);
      });
    });
    this.socket.write(java.encodeFrame(code, opaque, fields, body).frame);
    return answer;
  }

  oneway(code: number, fields: Array<[string, string | number | boolean | null]>): void {
    this.socket.write(java.encodeFrame(code, this.opaque++, fields, null, 2).frame);
  }

  /** HeartbeatData as fastjson writes it (sorted keys). */
  heartbeat(): Promise<RemotingCommand> {
    return this.invoke(RequestCode.HEART_BEAT, null, Buffer.from(`{"clientID":"127.0.0.1@4242","consumerDataSet":[],"producerDataSet":[{"groupName":"${GROUP}"},{"groupName":"CLIENT_INNER_PRODUCER"}]}`));
  }

  /** DefaultMQProducerImpl.sendMessageInTransaction's prepared send (SendMessageRequestHeader). */
  prepare(uniqKey: string, body: string, queueId = 1): Promise<RemotingCommand> {
    const properties = java.messageProperties2String([['TRAN_MSG', 'true'], ['PGROUP', GROUP], ['KEYS', `k-${uniqKey}`], ['UNIQ_KEY', uniqKey], ['WAIT', 'true'], ['TAGS', 'TagTx']]);
    return this.invoke(RequestCode.SEND_MESSAGE, [['producerGroup', GROUP], ['topic', TOPIC], ['defaultTopic', 'TBW102'], ['defaultTopicQueueNums', 4], ['queueId', queueId], ['sysFlag', PREPARED],
      ['bornTimestamp', Date.now()], ['flag', 0], ['properties', properties], ['reconsumeTimes', 0], ['unitMode', false], ['batch', false], ['maxReconsumeTimes', null]], Buffer.from(body));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** EndTransactionRequestHeader in declaration order. */
export function endFields(sent: { commitLogOffset: number; queueOffset: number; uniqKey: string }, commitOrRollback: number, fromTransactionCheck: boolean, group = GROUP): Array<[string, string | number | boolean | null]> {
  return [['producerGroup', group], ['tranStateTableOffset', sent.queueOffset], ['commitLogOffset', sent.commitLogOffset], ['commitOrRollback', commitOrRollback],
    ['fromTransactionCheck', fromTransactionCheck], ['msgId', sent.uniqKey], ['transactionId', sent.uniqKey]];
}

