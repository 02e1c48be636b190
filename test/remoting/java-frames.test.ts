// Goal: the request frames a Java RocketMQ 4.9.x client, broker or mqadmin writes for the codes
// ali-ons never sends (fixtures/java-requests.json: SEND_MESSAGE, SEND_BATCH_MESSAGE,
// GET_MIN_OFFSET, GET_EARLIEST_MSG_STORETIME, SEARCH_OFFSET_BY_TIMESTAMP, PULL_MESSAGE as mqadmin's
// pull consumer sends it, UPDATE_AND_CREATE_TOPIC, GET_BROKER_RUNTIME_INFO,
// GET_CONSUME_STATS, REGISTER_BROKER, UNREGISTER_BROKER, GET_BROKER_CLUSTER_INFO,
// GET_ALL_TOPIC_LIST_FROM_NAMESERVER) decode as Java reads them (extFields all strings, version
// 401, language JAVA), a live name server and 3-broker DLedger group answer each exactly once with
// the code RocketMQ would, and truncated, header-length-corrupted and wrong-typed variants of
// every one get a clear error answer or a closed connection, never a crash, with the server
// still answering a good frame afterwards.
// Method: the fixtures are constructed to Java's encoding from the apache/rocketmq sources by
// fixtures/make-java-requests.cjs (no JVM here); raw sockets replay them against broker-harness's
// in-process cluster (the broker frames to the master, the name server frames to the name server).
import t from 'tap';
import { decodeMessage } from '../../src/broker/message-codec.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';
import { startCluster } from '../broker/broker-harness.js';
import { until } from '../broker/group-harness.js';
import { type Answer, exchange, frameOf, hexOf, type JavaFrame, loadJavaFrames, type Outcome } from './java-frame-exchange.js';

const frames = loadJavaFrames('java-requests.json');
const byName = new Map(frames.map((f) => [f.name, f]));
const NAMESRV_CODES = new Set<number>([RequestCode.REGISTER_BROKER, RequestCode.UNREGISTER_BROKER, RequestCode.GET_BROKER_CLUSTER_INFO, RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER]);

t.test('every Java request frame decodes as Java reads it', async (t) => {
  t.equal(frames.length, 13);
  for (const frame of frames) {
    const commands = new RemotingFrameDecoder().push(Buffer.from(frame.hex, 'hex'));
    t.equal(commands.length, 1, `${frame.name}: one command`);
    const command = commands[0]!;
    t.same({ code: command.code, opaque: command.opaque, flag: command.flag, version: command.version, language: command.language, serializeType: command.serializeType },
      { code: frame.code, opaque: frame.opaque, flag: 0, version: 401, language: 'JAVA', serializeType: 0 }, `${frame.name}: header fields`);
    t.same({ ...command.extFields }, frame.extFields ?? {}, `${frame.name}: extFields as strings`);
    t.equal(command.body?.toString('hex') ?? null, frame.bodyHex, `${frame.name}: body`);
  }
});

function frameWithHeader(frame: JavaFrame, header: string): Buffer {
  return frameOf(Buffer.from(header, 'utf8'), frame.bodyHex === null ? Buffer.alloc(0) : Buffer.from(frame.bodyHex, 'hex'));
}

t.test('a live name server and broker group answer every Java request once, with the expected code', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await until(() => cluster.brokerAddrs().get(0) === master.brokerAddr, 5000, 'the master registered as 0');
  const created = await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'JavaTopic', readQueueNums: 4, writeQueueNums: 4, perm: 6 });
  t.equal(created.code, ResponseCode.SUCCESS, 'JavaTopic created for the send frames');
  const addrOf = (frame: JavaFrame): string => (NAMESRV_CODES.has(frame.code) ? cluster.namesrvAddr : master.brokerAddr);

  const expected: Record<string, number> = {
    SEND_MESSAGE: ResponseCode.SUCCESS,
    SEND_BATCH_MESSAGE: ResponseCode.SUCCESS,
    GET_MIN_OFFSET: ResponseCode.SUCCESS,
    GET_EARLIEST_MSG_STORETIME: ResponseCode.SUCCESS,
    SEARCH_OFFSET_BY_TIMESTAMP: ResponseCode.SUCCESS,
    PULL_MESSAGE: ResponseCode.SUCCESS,
    UPDATE_AND_CREATE_TOPIC: ResponseCode.SUCCESS,
    GET_BROKER_RUNTIME_INFO: ResponseCode.SUCCESS,
    GET_CONSUME_STATS: ResponseCode.SUCCESS,
    REGISTER_BROKER: ResponseCode.SUCCESS,
    GET_BROKER_CLUSTER_INFO: ResponseCode.SUCCESS,
    GET_ALL_TOPIC_LIST_FROM_NAMESERVER: ResponseCode.SUCCESS,
    UNREGISTER_BROKER: ResponseCode.SUCCESS,
  };
  const answers = new Map<string, Answer>();
  // Broker frames one connection each; the name server frames (REGISTER_BROKER, cluster info,
  // topic list, UNREGISTER_BROKER) in one write on one connection, as a broker channel: closing
  // it would drop the registration (liveness by channel close).
  const nsFrames = frames.filter((f) => NAMESRV_CODES.has(f.code));
  const nsOutcome = await exchange(cluster.namesrvAddr, Buffer.concat(nsFrames.map(hexOf)), { expect: nsFrames.length });
  t.equal(nsOutcome.answers.length, nsFrames.length, 'name server: one answer per request on one connection');
  for (const frame of frames) {
    const outcome = NAMESRV_CODES.has(frame.code)
      ? { answers: nsOutcome.answers.filter((a) => a.opaque === frame.opaque), closed: false }
      : await exchange(addrOf(frame), hexOf(frame));
    t.equal(outcome.answers.length, 1, `${frame.name}: exactly one answer`);
    const answer = outcome.answers[0];
    if (answer === undefined) continue;
    answers.set(frame.name, answer);
    t.equal(answer.opaque, frame.opaque, `${frame.name}: same opaque`);
    t.equal(answer.code, expected[frame.name], `${frame.name}: code ${expected[frame.name]} (got ${answer.code} ${answer.remark ?? ''})`);
  }
  const info = JSON.parse(answers.get('GET_BROKER_CLUSTER_INFO')?.body?.toString('utf8') ?? '{}') as { brokerAddrTable?: Record<string, { brokerAddrs: Record<string, string>; cluster: string }>; clusterAddrTable?: Record<string, string[]> };
  t.same(info.brokerAddrTable?.['JavaBroker'], { brokerAddrs: { '0': '127.0.0.1:10911' }, brokerName: 'JavaBroker', cluster: 'JavaCluster', enableActingMaster: false }, 'the Java-registered broker shows in the cluster info as BID 0');
  t.same(info.clusterAddrTable?.['JavaCluster'], ['JavaBroker'], 'under its cluster');
  t.match(answers.get('GET_ALL_TOPIC_LIST_FROM_NAMESERVER')?.body?.toString('utf8') ?? '', /JavaNsTopic/, 'its registered topic shows in the topic list');
  t.notOk(cluster.namesrv.routeInfo.clusterInfo().brokerAddrTable['JavaBroker'], 'UNREGISTER_BROKER removed it again');
  const again = await exchange(cluster.namesrvAddr, hexOf(byName.get('GET_BROKER_CLUSTER_INFO')!));
  t.notMatch(again.answers[0]?.body?.toString('utf8') ?? '', /JavaBroker/, 'cluster info no longer lists it');
  t.ok((answers.get('SEND_MESSAGE')?.body ?? null) === null, 'send answers carry no body');
  // The SEND_MESSAGE frame stored 'Hello from Java' at JavaTopic queue 1 offset 0 (store time now,
  // after the frame's timestamp 1700000000000): the search answers 0 (LOWER, all stored after),
  // the pull returns that one message.
  t.equal(answers.get('SEARCH_OFFSET_BY_TIMESTAMP')?.extFields['offset'], '0', 'SEARCH_OFFSET_BY_TIMESTAMP: offset 0');
  const pulledBody = answers.get('PULL_MESSAGE')?.body ?? null;
  t.ok(pulledBody !== null && decodeMessage(pulledBody, 0).queueOffset === 0 && Buffer.from(decodeMessage(pulledBody, 0).body).toString('utf8') === 'Hello from Java', 'PULL_MESSAGE: the message at offset 0');
  t.equal(pulledBody === null ? -1 : pulledBody.readInt32BE(0), pulledBody?.length ?? -2, 'PULL_MESSAGE: maxMsgNums 1, one message');
  t.ok(cluster.brokers.every((b) => b.port > 0), 'brokers still up');
});

t.test('truncated, header-length-corrupted and wrong-typed variants of every Java frame: an error answer or a close, never a crash', async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.close());
  const master = await until(() => cluster.master(), 10_000, 'a master');
  await cluster.call(master.brokerAddr, RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'JavaTopic', readQueueNums: 4, writeQueueNums: 4, perm: 6 });
  const addrOf = (frame: JavaFrame): string => (NAMESRV_CODES.has(frame.code) ? cluster.namesrvAddr : master.brokerAddr);
  const good = (frame: JavaFrame): JavaFrame => byName.get(NAMESRV_CODES.has(frame.code) ? 'GET_BROKER_CLUSTER_INFO' : 'GET_BROKER_RUNTIME_INFO')!;
  // The handler field each request reads as an integer.
  const numericField: Record<string, string> = {
    SEND_MESSAGE: 'queueId', SEND_BATCH_MESSAGE: 'e', GET_MIN_OFFSET: 'queueId', GET_EARLIEST_MSG_STORETIME: 'queueId',
    SEARCH_OFFSET_BY_TIMESTAMP: 'timestamp', PULL_MESSAGE: 'queueOffset',
    UPDATE_AND_CREATE_TOPIC: 'readQueueNums', REGISTER_BROKER: 'brokerId', UNREGISTER_BROKER: 'brokerId',
  };
  let variants = 0;
  const stillServes = async (frame: JavaFrame, what: string): Promise<void> => {
    const probe = good(frame);
    const outcome = await exchange(addrOf(frame), hexOf(probe));
    t.equal(outcome.answers[0]?.code, ResponseCode.SUCCESS, `${frame.name} ${what}: the server still answers a good frame`);
  };
  /** An error answer (never SUCCESS) for this opaque or 0, or a closed connection. */
  const errorOrClose = (frame: JavaFrame, what: string, outcome: Outcome): void => {
    variants++;
    t.ok(outcome.answers.length <= 1, `${frame.name} ${what}: at most one answer`);
    const answer = outcome.answers[0];
    if (answer === undefined) t.ok(outcome.closed, `${frame.name} ${what}: connection closed`);
    else {
      t.not(answer.code, ResponseCode.SUCCESS, `${frame.name} ${what}: error answer (${answer.code} ${answer.remark ?? ''})`);
      t.ok(answer.opaque === frame.opaque || answer.opaque === 0, `${frame.name} ${what}: opaque ${answer.opaque}`);
    }
  };

  for (const frame of frames) {
    const bytes = hexOf(frame);
    const headerLength = bytes.readInt32BE(4) & 0xffffff;
    const addr = addrOf(frame);
    // 1. Cut inside the length field, the header-length field and the header, then the client
    //    half-closes: no answer is possible, the server must close (and not crash).
    for (const cut of [2, 6, 8 + Math.floor(headerLength / 2), 8 + headerLength - 1]) {
      const outcome = await exchange(addr, bytes.subarray(0, cut), { endAfterWrite: true, waitMs: 1000 });
      variants++;
      t.equal(outcome.answers.length, 0, `${frame.name} cut at ${cut}/${bytes.length} then EOF: no answer`);
      t.ok(outcome.closed, `${frame.name} cut at ${cut}: connection closed`);
    }
    // 2. Cut inside the header with the total length rewritten to match: a complete frame whose
    //    header JSON is truncated.
    for (const cut of [8 + 1, 8 + Math.floor(headerLength / 2), 8 + headerLength - 1]) {
      const short = Buffer.from(bytes.subarray(0, cut));
      short.writeInt32BE(cut - 4, 0);
      short.writeInt32BE(cut - 8, 4);
      errorOrClose(frame, `header cut to ${cut - 8}/${headerLength} bytes`, await exchange(addr, short));
    }
    // 3. Header length corrupted: past the frame, one byte short, zero, and an unknown serialize type.
    for (const [what, value] of [['header length past the frame', headerLength + 1000], ['header length - 1', headerLength - 1], ['header length 0', 0], ['serialize type 7', (7 << 24) | headerLength]] as const) {
      const corrupted = Buffer.from(bytes);
      corrupted.writeInt32BE(value, 4);
      errorOrClose(frame, what, await exchange(addr, corrupted));
    }
    // 4. Wrong types: an object as an extFields value (or as extFields itself), and text where the
    //    handler reads an integer (the header decodes; the handler refuses with SYSTEM_ERROR).
    const header = JSON.parse(frame.header ?? '{}') as Record<string, unknown>;
    const objectTyped = frame.extFields === null
      ? { ...header, extFields: ['not', 'an', 'object'] }
      : { ...header, extFields: { ...frame.extFields, [Object.keys(frame.extFields)[0]!]: { nested: 1 } } };
    errorOrClose(frame, 'object-typed extField', await exchange(addr, frameWithHeader(frame, JSON.stringify(objectTyped))));
    const field = numericField[frame.name];
    if (field !== undefined) {
      const textTyped = { ...header, extFields: { ...frame.extFields, [field]: 'one' } };
      const outcome = await exchange(addr, frameWithHeader(frame, JSON.stringify(textTyped)));
      variants++;
      t.equal(outcome.answers.length, 1, `${frame.name} ${field}="one": one answer`);
      t.equal(outcome.answers[0]?.code, ResponseCode.SYSTEM_ERROR, `${frame.name} ${field}="one": SYSTEM_ERROR (${outcome.answers[0]?.remark ?? ''})`);
      t.equal(outcome.answers[0]?.opaque, frame.opaque, `${frame.name} ${field}="one": same opaque`);
    }
    await stillServes(frame, 'after its malformed variants');
  }
  t.ok(variants >= 11 * 12, `${variants} malformed variants`);
});
