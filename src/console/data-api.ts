// The console's data routes beyond the cluster view: topics (list, route, queue stats, create and
// update), consumer groups (progress and lag per queue, online client ids) and messages (by key,
// by id, by queue offset). Every broker read goes to the group's master first and falls back to
// the other members the route lists when one does not answer (their state is replicated), so the
// console keeps working when the member it talked to dies.
import type http from 'node:http';
import { AdminClient, AdminError, masterAddr, sortedBrokerAddrs, type BrokerDataView, type QueueConsumeStats } from '../admin/admin-client.js';
import { createMessageId, decodeMessages, MessageFormatError, parseMessageProperties, type StoredMessage } from '../broker/message-codec.js';
import { viewMessageById } from '../admin/commands.js';
import { deleteTopic, examineConsumerConnection, resetOffsetByTimestamp } from '../admin/group-commands.js';
import { RemotingClientError } from '../remoting/client.js';
import type { ClusterSnapshot } from './cluster-view.js';
import { HttpError, integerField, queryParam, readJsonObject, sendJson, stringField } from './http-util.js';

export interface DataContext {
  readonly admin: AdminClient;
  readonly canWrite: boolean;
  readonly writeRefusal: string;
  snapshot(): ClusterSnapshot | null;
  refresh(): Promise<ClusterSnapshot | null>;
  readonly nowMs: number;
}

/** RocketMQ's topic name rule (TopicValidator): 1-127 of these. */
export const TOPIC_PATTERN = /^[%|a-zA-Z0-9_-]{1,127}$/;
export const GROUP_PATTERN = /^[%|a-zA-Z0-9_-]{1,255}$/;
const BROKER_NAME_PATTERN = /^[a-zA-Z0-9_.-]{1,127}$/;
const KEY_PATTERN = /^[^\s]{1,128}$/;
const MSG_ID_PATTERN = /^[0-9A-Fa-f]{32}$/;
const MEMBER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** Reset times accepted: from 2000-01-01 to a day ahead of now (a typo years off is refused). */
const RESET_TIME_MIN_MS = Date.UTC(2000, 0, 1);
const RETRY_PREFIX = '%RETRY%';
/** Queues whose offsets one topic page reads at most (per group). */
const MAX_QUEUES_SHOWN = 64;
/** Message bodies shown up to this many bytes (the rest is cut, and says so). */
const BODY_PREVIEW_BYTES = 4096;

/** A broker call that failed on the connection (dead member), as opposed to an answer refusing it. */
function unreachable(error: unknown): boolean {
  return error instanceof AdminError && error.cause instanceof RemotingClientError;
}

/** The group's members in the order to ask them: master (BID 0) first, then the others by id. */
export function askOrder(data: BrokerDataView): string[] {
  return sortedBrokerAddrs(data).map(([, addr]) => addr);
}

/** fn on the first member of the group that answers; AdminError naming every failure when none does. */
export async function fromGroup<T>(data: BrokerDataView, fn: (addr: string) => Promise<T>): Promise<{ value: T; addr: string }> {
  const failures: string[] = [];
  for (const addr of askOrder(data)) {
    try {
      return { value: await fn(addr), addr };
    } catch (error) {
      if (!unreachable(error)) throw error;
      failures.push((error as Error).message);
    }
  }
  throw new AdminError(`no member of broker group ${data.brokerName} answered: ${failures.join('; ') || 'the name server lists none'}`);
}

function adminStatus(error: unknown): never {
  if (error instanceof AdminError) throw new HttpError(502, error.message);
  throw error;
}

export async function routeData(method: string, url: URL, request: http.IncomingMessage, response: http.ServerResponse, context: DataContext): Promise<boolean> {
  const path = url.pathname;
  try {
    if (method === 'GET' && path === '/api/topics') {
      const topics = await context.admin.topicList();
      sendJson(response, 200, { topics: topics.map((name) => ({ name, system: isSystemTopic(name) })) });
      return true;
    }
    if (method === 'GET' && path === '/api/topic') {
      const topic = queryParam(url, 'topic', TOPIC_PATTERN, 'a topic name') as string;
      sendJson(response, 200, await topicDetail(context.admin, topic));
      return true;
    }
    if (method === 'POST' && path === '/api/topics') {
      if (!context.canWrite) throw new HttpError(403, `write refused: ${context.writeRefusal}`);
      const body = await readJsonObject(request);
      const result = await upsertTopic(context.admin, body);
      void context.refresh();
      sendJson(response, 200, result);
      return true;
    }
    if (method === 'POST' && path === '/api/topics/delete') {
      if (!context.canWrite) throw new HttpError(403, `write refused: ${context.writeRefusal}`);
      const body = await readJsonObject(request);
      const topic = stringField(body, 'topic', TOPIC_PATTERN, 'a topic name');
      const cluster = stringField(body, 'cluster', BROKER_NAME_PATTERN, 'a cluster name');
      if (isSystemTopic(topic)) throw new HttpError(400, `${topic} is a system topic: not deleted from the console`);
      // mqadmin deleteTopic: every master of the cluster, then every name server.
      await deleteTopic(context.admin, topic, cluster);
      void context.refresh();
      sendJson(response, 200, { ok: true, topic, cluster });
      return true;
    }
    if (method === 'POST' && path === '/api/group/reset') {
      if (!context.canWrite) throw new HttpError(403, `write refused: ${context.writeRefusal}`);
      const body = await readJsonObject(request);
      const group = stringField(body, 'group', GROUP_PATTERN, 'a consumer group name');
      const topic = stringField(body, 'topic', TOPIC_PATTERN, 'a topic name');
      const timestamp = integerField(body, 'timestampMs', RESET_TIME_MIN_MS, context.nowMs + 86_400_000);
      const force = body['force'] ?? true;
      if (typeof force !== 'boolean') throw new HttpError(400, 'force must be true or false');
      const outcome = await resetOffsetByTimestamp(context.admin, group, topic, timestamp, force);
      sendJson(response, 200, { ok: true, group, topic, timestampMs: timestamp, ...outcome });
      return true;
    }
    if (method === 'POST' && path === '/api/cluster/transfer') {
      if (!context.canWrite) throw new HttpError(403, `write refused: ${context.writeRefusal}`);
      const body = await readJsonObject(request);
      const brokerName = stringField(body, 'brokerName', BROKER_NAME_PATTERN, 'a broker group name');
      const transferee = stringField(body, 'transferee', MEMBER_ID_PATTERN, 'a member id');
      const info = await context.admin.clusterInfo();
      const data = info.brokerAddrTable[brokerName];
      if (data === undefined) throw new HttpError(400, `broker group ${brokerName} is not registered with the name server`);
      const addr = masterAddr(data);
      if (addr === null) throw new HttpError(503, `broker group ${brokerName} has no leader (BID 0) right now; retry once the cluster page shows one`);
      await context.admin.transferLeadership(addr, transferee);
      void context.refresh();
      sendJson(response, 200, { ok: true, brokerName, from: addr, to: transferee });
      return true;
    }
    if (method === 'GET' && path === '/api/groups') {
      // There is no request listing consumer groups here: every group that consumed gets a
      // %RETRY%<group> topic on its first heartbeat, so the topic list names them.
      const topics = await context.admin.topicList();
      const groups = topics.filter((t) => t.startsWith(RETRY_PREFIX)).map((t) => t.slice(RETRY_PREFIX.length)).sort();
      sendJson(response, 200, { groups, source: 'the %RETRY%<group> topics the name server lists (created by each group\'s first heartbeat)' });
      return true;
    }
    if (method === 'GET' && path === '/api/group') {
      const group = queryParam(url, 'group', GROUP_PATTERN, 'a consumer group name') as string;
      sendJson(response, 200, await groupDetail(context.admin, group));
      return true;
    }
    if (method === 'GET' && path === '/api/messages') {
      sendJson(response, 200, await queryMessages(context.admin, url));
      return true;
    }
  } catch (error) {
    adminStatus(error);
  }
  return false;
}

function isSystemTopic(name: string): boolean {
  return name.startsWith(RETRY_PREFIX) || name.startsWith('%DLQ%') || name === 'TBW102' || name === 'SCHEDULE_TOPIC_XXXX' || name.startsWith('rmq_sys_') || name === 'RMQ_SYS_TRANS_HALF_TOPIC' || name === 'BenchmarkTest' || name === 'OFFSET_MOVED_EVENT' || name === 'SELF_TEST_TOPIC' || name.startsWith('DefaultCluster') || name.startsWith('RaftCluster') || name.startsWith('RaftNode');
}

interface QueueStat {
  readonly brokerName: string;
  readonly queueId: number;
  readonly minOffset: number | null;
  readonly maxOffset: number | null;
  readonly error: string | null;
}

async function topicDetail(admin: AdminClient, topic: string): Promise<unknown> {
  const route = await admin.topicRoute(topic);
  const queues: QueueStat[] = [];
  const brokers = [];
  for (const queueData of [...route.queueDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
    const data = route.brokerDatas.find((item) => item.brokerName === queueData.brokerName);
    brokers.push({ brokerName: queueData.brokerName, readQueueNums: queueData.readQueueNums, writeQueueNums: queueData.writeQueueNums, perm: queueData.perm, addrs: data === undefined ? [] : sortedBrokerAddrs(data).map(([id, addr]) => ({ id, addr })) });
    if (data === undefined) continue;
    const count = Math.min(MAX_QUEUES_SHOWN, Math.max(queueData.readQueueNums, queueData.writeQueueNums));
    for (let queueId = 0; queueId < count; queueId++) {
      try {
        const { value } = await fromGroup(data, async (addr) => ({ min: await admin.minOffset(addr, topic, queueId), max: await admin.maxOffset(addr, topic, queueId) }));
        queues.push({ brokerName: queueData.brokerName, queueId, minOffset: value.min, maxOffset: value.max, error: null });
      } catch (error) {
        if (!(error instanceof AdminError)) throw error;
        queues.push({ brokerName: queueData.brokerName, queueId, minOffset: null, maxOffset: null, error: error.message });
      }
    }
  }
  return { topic, brokers, queues, route };
}

async function upsertTopic(admin: AdminClient, body: Record<string, unknown>): Promise<unknown> {
  const topic = stringField(body, 'topic', TOPIC_PATTERN, 'a topic name: 1-127 of A-Z a-z 0-9 _ - % |');
  const cluster = stringField(body, 'cluster', BROKER_NAME_PATTERN, 'a cluster name');
  const readQueueNums = integerField(body, 'readQueueNums', 1, 1024, 8);
  const writeQueueNums = integerField(body, 'writeQueueNums', 1, 1024, 8);
  const perm = integerField(body, 'perm', 2, 7, 6);
  const order = body['order'] ?? false;
  if (typeof order !== 'boolean') throw new HttpError(400, 'order must be true or false');
  if (isSystemTopic(topic) && topic.startsWith('%')) throw new HttpError(400, `${topic} is a system topic name`);
  const info = await admin.clusterInfo();
  const names = info.clusterAddrTable[cluster];
  if (names === undefined) throw new HttpError(400, `cluster ${cluster} is not registered with the name server`);
  const done: string[] = [];
  for (const brokerName of [...names].sort()) {
    const data = info.brokerAddrTable[brokerName];
    const addr = data === undefined ? null : masterAddr(data);
    // Only a group's leader takes writes; during an election there is none (retry shortly).
    if (addr === null) throw new HttpError(503, `broker group ${brokerName} has no leader (BID 0) right now; retry once the cluster page shows one${done.length > 0 ? ` (already created on ${done.join(', ')})` : ''}`);
    await admin.updateTopic(addr, { topic, readQueueNums, writeQueueNums, perm, order });
    done.push(`${brokerName} (${addr})`);
  }
  if (done.length === 0) throw new HttpError(400, `cluster ${cluster} has no broker groups`);
  return { ok: true, topic, createdOn: done };
}

async function groupDetail(admin: AdminClient, group: string): Promise<unknown> {
  const info = await admin.clusterInfo();
  const queues: Array<QueueConsumeStats & { lag: number }> = [];
  const brokers: Array<{ brokerName: string; addr: string | null; consumeTps: number | null; error: string | null }> = [];
  let clientIds: string[] | null = null;
  let clientIdsNote: string | null = null;
  for (const brokerName of Object.keys(info.brokerAddrTable).sort()) {
    const data = info.brokerAddrTable[brokerName] as BrokerDataView;
    try {
      const { value, addr } = await fromGroup(data, (a) => admin.consumeStats(a, group, null));
      for (const q of value.queues) queues.push({ ...q, lag: Math.max(0, q.brokerOffset - q.consumerOffset) });
      brokers.push({ brokerName, addr, consumeTps: value.consumeTps, error: null });
    } catch (error) {
      if (!(error instanceof AdminError)) throw error;
      brokers.push({ brokerName, addr: null, consumeTps: null, error: error.message });
    }
    if (clientIds === null) {
      try {
        const { value } = await fromGroup(data, (a) => admin.consumerIds(a, group));
        clientIds = value;
      } catch (error) {
        if (!(error instanceof AdminError)) throw error;
        clientIdsNote = error.message;
      }
    }
  }
  queues.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
  // GET_CONSUMER_CONNECTION_LIST, merged over the groups serving %RETRY%<group> (mqadmin consumerConnection).
  let connections = null;
  let connectionsNote: string | null = null;
  try {
    connections = await examineConsumerConnection(admin, group);
  } catch (error) {
    if (!(error instanceof AdminError)) throw error;
    connectionsNote = error.message;
  }
  const lagTotal = queues.reduce((sum, q) => sum + q.lag, 0);
  return { group, queues, lagTotal, consumeTps: brokers.reduce((s, b) => s + (b.consumeTps ?? 0), 0), brokers, clientIds: clientIds ?? [], clientIdsNote, connections, connectionsNote };
}

interface MessageView {
  readonly msgId: string;
  readonly offsetMsgId: string;
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly queueOffset: number;
  readonly commitLogOffset: number;
  readonly storeHost: string;
  readonly tags: string;
  readonly keys: string;
  readonly bornAt: string;
  readonly storedAt: string;
  readonly reconsumeTimes: number;
  readonly properties: Record<string, string>;
  readonly body: string;
  readonly bodyBytes: number;
  readonly bodyTruncated: boolean;
  readonly bodyEncoding: 'utf8' | 'base64';
}

function hostText(message: StoredMessage): string {
  const ip = [...message.storeHost.ip].join('.');
  return `${ip}:${message.storeHost.port}`;
}

function messageView(message: StoredMessage, brokerName: string): MessageView {
  const properties = Object.fromEntries(parseMessageProperties(message.properties));
  const offsetMsgId = createMessageId(message.storeHost, message.physicalOffset);
  const bytes = Buffer.from(message.body);
  const shown = bytes.subarray(0, BODY_PREVIEW_BYTES);
  const text = shown.toString('utf8');
  const isText = !text.includes('\uFFFD');
  return {
    msgId: properties['UNIQ_KEY'] ?? offsetMsgId,
    offsetMsgId,
    topic: message.topic,
    brokerName,
    queueId: message.queueId,
    queueOffset: message.queueOffset,
    commitLogOffset: message.physicalOffset,
    storeHost: hostText(message),
    tags: properties['TAGS'] ?? '',
    keys: properties['KEYS'] ?? '',
    bornAt: new Date(message.bornTimestampMs).toISOString(),
    storedAt: new Date(message.storeTimestampMs).toISOString(),
    reconsumeTimes: message.reconsumeTimes,
    properties,
    body: isText ? text : shown.toString('base64'),
    bodyBytes: bytes.length,
    bodyTruncated: bytes.length > BODY_PREVIEW_BYTES,
    bodyEncoding: isText ? 'utf8' : 'base64',
  };
}

function decodeAll(bytes: Uint8Array, addr: string): StoredMessage[] {
  try {
    return decodeMessages(bytes);
  } catch (error) {
    if (error instanceof MessageFormatError) throw new AdminError(`${addr} answered malformed messages: ${error.message}`);
    throw error;
  }
}

async function queryMessages(admin: AdminClient, url: URL): Promise<unknown> {
  const by = queryParam(url, 'by', /^(key|id|offset)$/, 'key, id or offset') as string;
  if (by === 'id') {
    const id = queryParam(url, 'id', MSG_ID_PATTERN, 'an offset message id (32 hex digits: the msgId a send answers)') as string;
    const { message, addr } = await viewMessageById(admin, id);
    const info = await admin.clusterInfo();
    const brokerName = Object.values(info.brokerAddrTable).find((d) => Object.values(d.brokerAddrs).includes(addr))?.brokerName ?? '?';
    return { by, messages: [messageView(message, brokerName)], note: `read from ${addr} (the store host in the id)` };
  }
  const topic = queryParam(url, 'topic', TOPIC_PATTERN, 'a topic name') as string;
  const route = await admin.topicRoute(topic);
  if (by === 'key') {
    const key = queryParam(url, 'key', KEY_PATTERN, 'a message key (1-128 characters, no spaces)') as string;
    const messages: MessageView[] = [];
    for (const data of [...route.brokerDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
      const { value: bytes, addr } = await fromGroup(data, (a) => admin.queryMessage(a, topic, key, 64, 0, Number.MAX_SAFE_INTEGER));
      for (const message of decodeAll(bytes, addr)) {
        const keys = parseMessageProperties(message.properties).get('KEYS') ?? '';
        // The index matches by hash: keep only messages that really carry the key.
        if (message.topic === topic && keys.split(' ').includes(key)) messages.push(messageView(message, data.brokerName));
      }
    }
    return { by, messages };
  }
  const brokerName = queryParam(url, 'broker', BROKER_NAME_PATTERN, 'a broker group name') as string;
  const queueId = Number(queryParam(url, 'queue', /^[0-9]{1,4}$/, 'a queue id'));
  const offset = Number(queryParam(url, 'offset', /^[0-9]{1,16}$/, 'a queue offset'));
  const data = route.brokerDatas.find((d) => d.brokerName === brokerName);
  if (data === undefined) throw new HttpError(400, `broker group ${brokerName} does not serve ${topic}`);
  const { value: bytes, addr } = await fromGroup(data, (a) => admin.pullOne(a, topic, queueId, offset));
  const messages = bytes === null ? [] : decodeAll(bytes, addr).filter((m) => m.queueOffset === offset).map((m) => messageView(m, brokerName));
  return { by, messages, note: messages.length === 0 ? `no message at ${topic} ${brokerName} queue ${queueId} offset ${offset}` : null };
}
