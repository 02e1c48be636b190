// The requests mqadmin makes (MQAdminExt in Java): cluster info, routes and topic lists from the
// name server(s); runtime info, topic configs, queue offsets and consumer offsets from brokers;
// topic creation on brokers. Every call is bounded by timeoutMs and every failure is an
// AdminError whose message names the address and what went wrong, so the CLI can print it as is.
import type { TlsClientOptions } from '../net/tls.js';
import { aclSigningHook, type AclCredentials } from '../acl/signature.js';
import { RemotingClient, RemotingClientError } from '../remoting/client.js';
import { RequestCode, ResponseCode } from '../remoting/codes.js';
import { allocateOpaque, createRequest, type RemotingCommand } from '../remoting/command.js';
import { parseRocketMqJson, RocketMqJsonError } from '../remoting/fastjson.js';

export class AdminError extends Error {
  override name = 'AdminError';
}

export interface ClusterInfoView {
  /** brokerName → { cluster, brokerName, brokerAddrs: id → addr } */
  readonly brokerAddrTable: Record<string, BrokerDataView>;
  /** cluster → brokerNames */
  readonly clusterAddrTable: Record<string, string[]>;
}

export interface BrokerDataView {
  readonly cluster: string;
  readonly brokerName: string;
  readonly brokerAddrs: Record<string, string>;
}

export interface QueueDataView {
  readonly brokerName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly topicSysFlag: number;
}

export interface TopicRouteView {
  readonly queueDatas: QueueDataView[];
  readonly brokerDatas: BrokerDataView[];
  readonly filterServerTable?: Record<string, string[]>;
}

export interface TopicConfigView {
  readonly topicName: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
}

/** One queue of GET_CONSUME_STATS (MessageQueue + OffsetWrapper). */
export interface QueueConsumeStats {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly brokerOffset: number;
  readonly consumerOffset: number;
  readonly lastTimestamp: number;
}

export interface ConsumeStatsView {
  /** The group's messages per second on that broker. */
  readonly consumeTps: number;
  readonly queues: QueueConsumeStats[];
}

/** One queue of GET_TOPIC_STATS_INFO (MessageQueue + TopicOffset). */
export interface QueueTopicStats {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly minOffset: number;
  readonly maxOffset: number;
  readonly lastUpdateTimestamp: number;
}

/** GET_CONSUMER_CONNECTION_LIST's ConsumerConnection. */
export interface ConsumerConnectionView {
  readonly connectionSet: Array<{ readonly clientId: string; readonly clientAddr: string; readonly language: string; readonly version: number }>;
  readonly subscriptionTable: Record<string, { readonly topic: string; readonly subString: string }>;
  readonly consumeType: string;
  readonly messageModel: string;
  readonly consumeFromWhere: string;
}

/** SubscriptionGroupConfig as updateSubGroup sends it. */
export interface SubscriptionGroupView {
  readonly groupName: string;
  readonly consumeEnable: boolean;
  readonly consumeFromMinEnable: boolean;
  readonly consumeBroadcastEnable: boolean;
  readonly retryQueueNums: number;
  readonly retryMaxTimes: number;
  readonly brokerId: number;
  readonly whichBrokerWhenConsumeSlowly: number;
  readonly notifyConsumerIdsChangedEnable: boolean;
  /** RocketMQ 5's FIFO group flag (sent only when true). */
  readonly consumeMessageOrderly?: true;
}

/** INVOKE_BROKER_TO_RESET_OFFSET's answer: the offsets set per queue, or the group not online. */
export type ResetOffsetAnswer = { readonly online: true; readonly offsets: Array<{ readonly topic: string; readonly brokerName: string; readonly queueId: number; readonly offset: number }> } | { readonly online: false; readonly remark: string };

export interface UpdateTopicOptions {
  readonly topic: string;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly order: boolean;
}

/** The brokerAddrs entries of one broker name, ascending by id (Java's HashMap<Long,…> order). */
export function sortedBrokerAddrs(data: BrokerDataView): Array<[number, string]> {
  return Object.entries(data.brokerAddrs)
    .map(([id, addr]) => [Number(id), addr] as [number, string])
    .sort(([a], [b]) => a - b);
}

/** The master (id 0) address, else the lowest id: followers answer reads from replicated state. */
export function readableAddr(data: BrokerDataView): string | null {
  const addrs = sortedBrokerAddrs(data);
  return addrs.find(([id]) => id === 0)?.[1] ?? addrs[0]?.[1] ?? null;
}

export function masterAddr(data: BrokerDataView): string | null {
  return sortedBrokerAddrs(data).find(([id]) => id === 0)?.[1] ?? null;
}

/** The consumer group an admin pull (pullOne) names, MixAll.TOOLS_CONSUMER_GROUP: it commits nothing. */
export const ADMIN_PULL_GROUP = 'TOOLS_CONSUMER';
/** PullSysFlag.SUBSCRIPTION: the request carries its own subscription ('*'), so no tag filter of a group applies. */
const PULL_SUBSCRIPTION_FLAG = 4;

export interface PullOneResult {
  readonly code: number;
  readonly remark: string | null;
  readonly body: Uint8Array | null;
  readonly nextBeginOffset: number | null;
  readonly minOffset: number | null;
  readonly maxOffset: number | null;
}

export class AdminClient {
  private readonly client: RemotingClient;

  /**
   * namesrvAddrs: tried in order; the first that answers is used (as Java's client does).
   * tls: to the name servers and brokers. credentials: every request is signed with this ACL
   * account (brokers with aclEnable=true).
   */
  constructor(private readonly namesrvAddrs: readonly string[], private readonly timeoutMs = 5000, tls: TlsClientOptions | null = null, credentials: AclCredentials | null = null) {
    if (namesrvAddrs.length === 0) throw new AdminError('no name server address: pass -n host:port (";" separates several)');
    this.client = new RemotingClient({ connectTimeoutMs: 3000, tls, ...(credentials === null ? {} : { beforeRequest: aclSigningHook(credentials) }) });
  }

  close(): void {
    this.client.close();
  }

  async clusterInfo(): Promise<ClusterInfoView> {
    const response = await this.namesrvCall(createRequest(RequestCode.GET_BROKER_CLUSTER_INFO), 'GET_BROKER_CLUSTER_INFO');
    const info = parseBody(response, 'cluster info') as Partial<ClusterInfoView>;
    return { brokerAddrTable: info.brokerAddrTable ?? {}, clusterAddrTable: info.clusterAddrTable ?? {} };
  }

  async topicList(): Promise<string[]> {
    const response = await this.namesrvCall(createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER), 'GET_ALL_TOPIC_LIST_FROM_NAMESERVER');
    const body = parseBody(response, 'topic list') as { topicList?: string[] };
    return [...(body.topicList ?? [])].sort();
  }

  /** The route, or AdminError for a topic the name server does not know. */
  async topicRoute(topic: string): Promise<TopicRouteView> {
    const response = await this.namesrvCall(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic } }), 'GET_ROUTEINFO_BY_TOPIC', [ResponseCode.TOPIC_NOT_EXIST]);
    if (response.code === ResponseCode.TOPIC_NOT_EXIST) throw new AdminError(`topic ${topic} does not exist (the name server has no route for it)`);
    return parseBody(response, `route of ${topic}`) as TopicRouteView;
  }

  /** GET_BROKER_RUNTIME_INFO's KVTable: every value a string. */
  async runtimeInfo(addr: string): Promise<Record<string, string>> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO), 'GET_BROKER_RUNTIME_INFO');
    const body = parseBody(response, `runtime info of ${addr}`) as { table?: Record<string, string> };
    return body.table ?? {};
  }

  async topicConfigs(addr: string): Promise<Record<string, TopicConfigView>> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG), 'GET_ALL_TOPIC_CONFIG');
    const body = parseBody(response, `topic config of ${addr}`) as { topicConfigTable?: Record<string, TopicConfigView> };
    return body.topicConfigTable ?? {};
  }

  async updateTopic(addr: string, options: UpdateTopicOptions): Promise<void> {
    // UpdateTopicSubCommand's header (CreateTopicRequestHeader): defaultTopic is TBW102 in Java.
    const request = createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, {
      extFields: {
        topic: options.topic,
        defaultTopic: 'TBW102',
        readQueueNums: options.readQueueNums,
        writeQueueNums: options.writeQueueNums,
        perm: options.perm,
        topicFilterType: 'SINGLE_TAG',
        topicSysFlag: 0,
        order: options.order,
      },
    });
    await this.brokerCall(addr, request, 'UPDATE_AND_CREATE_TOPIC');
  }

  async maxOffset(addr: string, topic: string, queueId: number): Promise<number> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_MAX_OFFSET, { extFields: { topic, queueId } }), 'GET_MAX_OFFSET');
    return offsetField(response, addr);
  }

  async minOffset(addr: string, topic: string, queueId: number): Promise<number> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_MIN_OFFSET, { extFields: { topic, queueId } }), 'GET_MIN_OFFSET');
    return offsetField(response, addr);
  }

  /** VIEW_MESSAGE_BY_ID: the stored message bytes at a commit-log offset of the broker at addr. */
  async viewMessage(addr: string, physicalOffset: number): Promise<Uint8Array> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { extFields: { offset: physicalOffset } }), 'VIEW_MESSAGE_BY_ID');
    if (response.body === null) throw new AdminError(`${addr}: VIEW_MESSAGE_BY_ID answered no body`);
    return response.body;
  }

  /**
   * QUERY_MESSAGE: the stored bytes of the messages the broker at addr indexed under topic#key in
   * [beginMs, endMs] (hash matches: the caller checks the keys); empty when none.
   */
  async queryMessage(addr: string, topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Promise<Uint8Array> {
    const request = createRequest(RequestCode.QUERY_MESSAGE, { extFields: { topic, key, maxNum, beginTimestamp: beginMs, endTimestamp: endMs } });
    const response = await this.brokerCall(addr, request, 'QUERY_MESSAGE', [ResponseCode.QUERY_NOT_FOUND]);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return new Uint8Array(0);
    return response.body ?? new Uint8Array(0);
  }

  /**
   * PULL_MESSAGE of one message at a queue offset, as RocketMQ's DefaultMQPullConsumer.pull(mq,
   * "*", offset, 1) sends it from mqadmin (group TOOLS_CONSUMER, sysFlag SUBSCRIPTION only: no
   * offset commit, no long poll). The not-found codes (19, 20, 21) come back as they are, with the
   * queue's bounds.
   */
  async pullAt(addr: string, topic: string, queueId: number, queueOffset: number, group = ADMIN_PULL_GROUP): Promise<PullOneResult> {
    const request = createRequest(RequestCode.PULL_MESSAGE, {
      extFields: { consumerGroup: group, topic, queueId, queueOffset, maxMsgNums: 1, sysFlag: PULL_SUBSCRIPTION_FLAG, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0, expressionType: 'TAG' },
    });
    const response = await this.brokerCall(addr, request, 'PULL_MESSAGE', [ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_RETRY_IMMEDIATELY, ResponseCode.PULL_OFFSET_MOVED]);
    const field = (name: string): number | null => {
      const value = Number(response.extFields[name] ?? NaN);
      return Number.isSafeInteger(value) ? value : null;
    };
    return { code: response.code, remark: response.remark, body: response.body, nextBeginOffset: field('nextBeginOffset'), minOffset: field('minOffset'), maxOffset: field('maxOffset') };
  }

  /** The group's committed offset for one queue, or null when it never committed one there. */
  async consumerOffset(addr: string, group: string, topic: string, queueId: number): Promise<number | null> {
    const request = createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { extFields: { consumerGroup: group, topic, queueId, setZeroIfNotFound: false } });
    const response = await this.brokerCall(addr, request, 'QUERY_CONSUMER_OFFSET', [ResponseCode.QUERY_NOT_FOUND]);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return null;
    return offsetField(response, addr);
  }

  /** GET_CONSUME_STATS: the group's offsets on one broker (one topic, or every topic it committed on). */
  async consumeStats(addr: string, group: string, topic: string | null): Promise<ConsumeStatsView> {
    const extFields: Record<string, string> = topic === null ? { consumerGroup: group } : { consumerGroup: group, topic };
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_CONSUME_STATS, { extFields }), 'GET_CONSUME_STATS');
    if (response.body === null || response.body.length === 0) throw new AdminError(`consume stats of ${addr}: the response has no body`);
    try {
      return parseConsumeStats(response.body.toString('utf8'));
    } catch (error) {
      throw new AdminError(`consume stats of ${addr}: ${(error as Error).message}`);
    }
  }

  /**
   * GET_CONSUMER_LIST_BY_GROUP: the client ids of the group's consumers connected to the broker at
   * addr (heartbeats); empty when none is (the broker answers SYSTEM_ERROR "no consumer ...").
   */
  async consumerIds(addr: string, group: string): Promise<string[]> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { extFields: { consumerGroup: group } }), 'GET_CONSUMER_LIST_BY_GROUP', [ResponseCode.SYSTEM_ERROR]);
    if (response.code === ResponseCode.SYSTEM_ERROR) {
      if (/no consumer/i.test(response.remark ?? '')) return [];
      throw new AdminError(`GET_CONSUMER_LIST_BY_GROUP to ${addr} failed: code ${response.code}${response.remark === null ? '' : `, ${response.remark}`}`);
    }
    const body = parseBody(response, `consumer list of ${addr}`) as { consumerIdList?: unknown };
    return Array.isArray(body.consumerIdList) ? body.consumerIdList.filter((id): id is string => typeof id === 'string').sort() : [];
  }

  /**
   * PULL_MESSAGE of the one message at a queue offset (Java's queryMsgByOffset pulls the same way),
   * as consumer group `group`, committing nothing and never held: the stored bytes, or null when
   * the queue has no message there (not found, moved, or a follower that has not applied it yet).
   */
  async pullOne(addr: string, topic: string, queueId: number, queueOffset: number, group = ADMIN_PULL_GROUP): Promise<Uint8Array | null> {
    const pulled = await this.pullAt(addr, topic, queueId, queueOffset, group);
    if (pulled.code !== ResponseCode.SUCCESS || pulled.body === null || pulled.body.length === 0) return null;
    return pulled.body;
  }

  /** GET_TOPIC_STATS_INFO: min/max offset and last store time of every write queue of the topic on that broker. */
  async topicStats(addr: string, topic: string): Promise<QueueTopicStats[]> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_TOPIC_STATS_INFO, { extFields: { topic } }), 'GET_TOPIC_STATS_INFO');
    return messageQueueTable(response, `topic stats of ${addr}`, (q, v) => {
      const o = (v ?? {}) as { minOffset?: number; maxOffset?: number; lastUpdateTimestamp?: number };
      return { ...q, minOffset: o.minOffset ?? 0, maxOffset: o.maxOffset ?? 0, lastUpdateTimestamp: o.lastUpdateTimestamp ?? 0 };
    });
  }

  /** DELETE_TOPIC_IN_BROKER to one broker (its master: the topic table is replicated from there). */
  async deleteTopicInBroker(addr: string, topic: string): Promise<void> {
    await this.brokerCall(addr, createRequest(RequestCode.DELETE_TOPIC_IN_BROKER, { extFields: { topic } }), 'DELETE_TOPIC_IN_BROKER');
  }

  /** DELETE_TOPIC_IN_NAMESRV to every name server (Java's deleteTopicInNameServer: each address of the set). */
  async deleteTopicInNamesrv(topic: string): Promise<void> {
    for (const addr of this.namesrvAddrs) await this.call(addr, createRequest(RequestCode.DELETE_TOPIC_IN_NAMESRV, { extFields: { topic } }), 'DELETE_TOPIC_IN_NAMESRV', []);
  }

  async updateSubscriptionGroup(addr: string, config: SubscriptionGroupView): Promise<void> {
    await this.brokerCall(addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, { body: Buffer.from(JSON.stringify(config), 'utf8') }), 'UPDATE_AND_CREATE_SUBSCRIPTIONGROUP');
  }

  async deleteSubscriptionGroup(addr: string, groupName: string, cleanOffset: boolean): Promise<void> {
    await this.brokerCall(addr, createRequest(RequestCode.DELETE_SUBSCRIPTIONGROUP, { extFields: { groupName, cleanOffset } }), 'DELETE_SUBSCRIPTIONGROUP');
  }

  /** GET_CONSUMER_CONNECTION_LIST on one broker; null when the group is not online there. */
  async consumerConnection(addr: string, group: string): Promise<ConsumerConnectionView | null> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.GET_CONSUMER_CONNECTION_LIST, { extFields: { consumerGroup: group } }), 'GET_CONSUMER_CONNECTION_LIST', [ResponseCode.CONSUMER_NOT_ONLINE]);
    if (response.code === ResponseCode.CONSUMER_NOT_ONLINE) return null;
    const body = parseBody(response, `consumer connections of ${addr}`) as Partial<ConsumerConnectionView>;
    return {
      connectionSet: Array.isArray(body.connectionSet) ? body.connectionSet : [],
      subscriptionTable: body.subscriptionTable ?? {},
      consumeType: body.consumeType ?? '',
      messageModel: body.messageModel ?? '',
      consumeFromWhere: body.consumeFromWhere ?? '',
    };
  }

  /** INVOKE_BROKER_TO_RESET_OFFSET (timestamp -1: to the queue ends); isC: as a C++ client asks (language CPP). */
  async resetOffsetByTimestamp(addr: string, topic: string, group: string, timestamp: number, isForce: boolean, isC = false): Promise<ResetOffsetAnswer> {
    const request = { ...createRequest(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { extFields: { topic, group, timestamp, isForce } }), ...(isC ? { language: 'CPP' } : {}) };
    const response = await this.brokerCall(addr, request, 'INVOKE_BROKER_TO_RESET_OFFSET', [ResponseCode.CONSUMER_NOT_ONLINE]);
    if (response.code === ResponseCode.CONSUMER_NOT_ONLINE) return { online: false, remark: response.remark ?? '' };
    const offsets = messageQueueTable(response, `reset offsets of ${addr}`, (q, v) => ({ ...q, offset: typeof v === 'number' ? v : Number(v) }));
    return { online: true, offsets };
  }

  async updateConsumerOffset(addr: string, group: string, topic: string, queueId: number, commitOffset: number): Promise<void> {
    await this.brokerCall(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { extFields: { consumerGroup: group, topic, queueId, commitOffset } }), 'UPDATE_CONSUMER_OFFSET');
  }

  /** SEARCH_OFFSET_BY_TIMESTAMP: the first queue offset stored at or after the time. */
  async searchOffset(addr: string, topic: string, queueId: number, timestamp: number): Promise<number> {
    const response = await this.brokerCall(addr, createRequest(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { extFields: { topic, queueId, timestamp } }), 'SEARCH_OFFSET_BY_TIMESTAMP');
    return offsetField(response, addr);
  }

  /** DLEDGER_TRANSFER_LEADERSHIP (ours) to the group's master: it hands leadership to `transferee`. */
  async transferLeadership(addr: string, transferee: string): Promise<void> {
    await this.brokerCall(addr, createRequest(RequestCode.DLEDGER_TRANSFER_LEADERSHIP, { extFields: { transferee } }), 'DLEDGER_TRANSFER_LEADERSHIP');
  }

  private async namesrvCall(request: RemotingCommand, what: string, acceptedCodes: readonly number[] = []): Promise<RemotingCommand> {
    const failures: string[] = [];
    for (const addr of this.namesrvAddrs) {
      try {
        // Each attempt is its own request with its own opaque (the failed one may still be pending).
        return await this.call(addr, { ...request, opaque: allocateOpaque() }, what, acceptedCodes);
      } catch (error) {
        if (!(error instanceof AdminError) || !(error.cause instanceof RemotingClientError)) throw error;
        failures.push(error.message);
      }
    }
    throw new AdminError(`no name server answered ${what}: ${failures.join('; ')}`);
  }

  private brokerCall(addr: string, request: RemotingCommand, what: string, acceptedCodes: readonly number[] = []): Promise<RemotingCommand> {
    return this.call(addr, request, what, acceptedCodes);
  }

  private async call(addr: string, request: RemotingCommand, what: string, acceptedCodes: readonly number[]): Promise<RemotingCommand> {
    let response: RemotingCommand;
    try {
      response = await this.client.invoke(addr, request, this.timeoutMs);
    } catch (error) {
      if (error instanceof RemotingClientError) throw new AdminError(`${what} to ${error.message}`, { cause: error });
      throw error;
    }
    if (response.code !== ResponseCode.SUCCESS && !acceptedCodes.includes(response.code)) {
      throw new AdminError(`${what} to ${addr} failed: code ${response.code}${response.remark === null ? '' : `, ${response.remark}`}`);
    }
    return response;
  }
}

function parseBody(response: RemotingCommand, what: string): unknown {
  if (response.body === null || response.body.length === 0) throw new AdminError(`${what}: the response has no body`);
  try {
    return parseRocketMqJson(response.body.toString('utf8'));
  } catch (error) {
    if (error instanceof RocketMqJsonError || error instanceof SyntaxError) throw new AdminError(`${what}: the body is not JSON (${error.message})`);
    throw error;
  }
}

function offsetField(response: RemotingCommand, addr: string): number {
  const text = response.extFields['offset'];
  const value = text === undefined ? NaN : Number(text);
  if (!Number.isSafeInteger(value)) throw new AdminError(`${addr} answered without a valid offset field (${JSON.stringify(text)})`);
  return value;
}

/** fastjson's MessageQueue map key: {"brokerName":"b","queueId":0,"topic":"T"} (names cannot hold quotes). */
const MESSAGE_QUEUE_KEY = /\{"brokerName":"([^"\\]*)","queueId":(\d+),"topic":"([^"\\]*)"\}(?=\s*:)/g;

/** A fastjson map keyed by MessageQueue objects (TopicStatsTable, ResetOffsetBody: field offsetTable), each entry mapped by `row`. */
function messageQueueTable<T>(response: RemotingCommand, what: string, row: (queue: { topic: string; brokerName: string; queueId: number }, value: unknown) => T): T[] {
  if (response.body === null || response.body.length === 0) throw new AdminError(`${what}: the response has no body`);
  try {
    const standard = response.body.toString('utf8').replace(MESSAGE_QUEUE_KEY, (_key, brokerName: string, queueId: string, topic: string) => JSON.stringify([topic, brokerName, queueId].join('\u0000')));
    const body = parseRocketMqJson(standard) as { offsetTable?: Record<string, unknown> };
    return Object.entries(body.offsetTable ?? {}).map(([key, value]) => {
      const [topic, brokerName, queueId] = key.split('\u0000');
      if (topic === undefined || brokerName === undefined || queueId === undefined) throw new RocketMqJsonError(`offsetTable key ${JSON.stringify(key)} is not a MessageQueue`);
      return row({ topic, brokerName, queueId: Number(queueId) }, value);
    });
  } catch (error) {
    if (error instanceof RocketMqJsonError || error instanceof SyntaxError) throw new AdminError(`${what}: ${error.message}`);
    throw error;
  }
}

/**
 * ConsumeStats as fastjson writes it: offsetTable's keys are MessageQueue objects, not strings.
 * Each key is turned into a string first (topic, brokerName, queueId joined by NUL), then the
 * whole text is parsed as JSON.
 */
export function parseConsumeStats(text: string): ConsumeStatsView {
  const standard = text.replace(MESSAGE_QUEUE_KEY, (_key, brokerName: string, queueId: string, topic: string) => JSON.stringify([topic, brokerName, queueId].join('\u0000')));
  const body = parseRocketMqJson(standard) as { consumeTps?: number; offsetTable?: Record<string, { brokerOffset?: number; consumerOffset?: number; lastTimestamp?: number }> };
  const queues = Object.entries(body.offsetTable ?? {}).map(([key, wrapper]) => {
    const [topic, brokerName, queueId] = key.split('\u0000');
    if (topic === undefined || brokerName === undefined || queueId === undefined) throw new RocketMqJsonError(`offsetTable key ${JSON.stringify(key)} is not a MessageQueue`);
    return { topic, brokerName, queueId: Number(queueId), brokerOffset: wrapper.brokerOffset ?? 0, consumerOffset: wrapper.consumerOffset ?? 0, lastTimestamp: wrapper.lastTimestamp ?? 0 };
  });
  return { consumeTps: typeof body.consumeTps === 'number' ? body.consumeTps : 0, queues };
}
