// The mqadmin sub-commands: each gathers what it needs through AdminClient and returns the text to
// print (so tests can check output without a terminal). Column layouts follow RocketMQ 4.9.4's
// sub-commands (reference §1.3 for clusterList), so operators' scripts that read them keep working.
import { AdminClient, AdminError, masterAddr, readableAddr, sortedBrokerAddrs, type BrokerDataView, type ClusterInfoView, type QueueConsumeStats } from './admin-client.js';
import { createMessageId, decodeMessage, decodeMessageId, decodeMessages, MessageFormatError, parseMessageProperties, type StoredMessage } from '../broker/message-codec.js';
import { ResponseCode } from '../remoting/codes.js';

const format = (template: string, ...values: Array<string | number>): string => {
  // A tiny printf for the %-Ns / %Ns forms Java's printf uses here (no other conversions needed).
  let index = 0;
  return template.replace(/%(-?)(\d*)s/g, (_match, left: string, width: string) => {
    const text = String(values[index++] ?? '');
    const size = width === '' ? 0 : Number(width);
    return left === '-' ? text.padEnd(size) : text.padStart(size);
  }).trimEnd();
};

const CLUSTER_LIST_ROW = '%-16s  %-22s  %-4s  %-22s %-16s %19s %19s %10s %5s %6s';

function clusterNames(info: ClusterInfoView, onlyCluster: string | null): string[] {
  const names = Object.keys(info.clusterAddrTable).sort();
  if (onlyCluster === null) return names;
  if (!names.includes(onlyCluster)) throw new AdminError(`cluster ${onlyCluster} is not registered with the name server (known: ${names.join(', ') || 'none'})`);
  return [onlyCluster];
}

function brokerData(info: ClusterInfoView, brokerName: string): BrokerDataView | null {
  return info.brokerAddrTable[brokerName] ?? null;
}

function fixed(text: string | undefined, digits: number): string {
  const value = Number(text ?? '0');
  return (Number.isFinite(value) ? value : 0).toFixed(digits);
}

/** clusterList: one row per (cluster, brokerName, brokerId) with the broker's runtime info. */
export async function clusterList(admin: AdminClient, onlyCluster: string | null, warn: (line: string) => void): Promise<string> {
  const info = await admin.clusterInfo();
  const lines = [format(CLUSTER_LIST_ROW, '#Cluster Name', '#Broker Name', '#BID', '#Addr', '#Version', '#InTPS(LOAD)', '#OutTPS(LOAD)', '#PCWait(ms)', '#Hour', '#SPACE')];
  const now = Date.now();
  for (const cluster of clusterNames(info, onlyCluster)) {
    for (const brokerName of [...(info.clusterAddrTable[cluster] ?? [])].sort()) {
      const data = brokerData(info, brokerName);
      if (data === null) continue;
      for (const [id, addr] of sortedBrokerAddrs(data)) {
        let table: Record<string, string> = {};
        try {
          table = await admin.runtimeInfo(addr);
        } catch (error) {
          // Java prints the row with empty stats when a broker does not answer; we say why on stderr.
          warn(`clusterList: ${(error as Error).message}`);
        }
        const inTps = `${fixed(table['putTps'], 2).padStart(9)}(${table['sendThreadPoolQueueSize'] ?? '0'},${table['sendThreadPoolQueueHeadWaitTimeMills'] ?? '0'}ms)`;
        const outTps = `${fixed(table['getTransferredTps'], 2).padStart(9)}(${table['pullThreadPoolQueueSize'] ?? '0'},${table['pullThreadPoolQueueHeadWaitTimeMills'] ?? '0'}ms)`;
        const earliest = Number(table['earliestMessageTimeStamp'] ?? '');
        const hours = Number.isFinite(earliest) && earliest > 0 ? ((now - earliest) / 3.6e6).toFixed(2) : '0.00';
        lines.push(format(CLUSTER_LIST_ROW, cluster, brokerName, id, addr, table['brokerVersionDesc'] ?? '', inTps, outTps, table['pageCacheLockTimeMills'] ?? '0', hours, fixed(table['commitLogDiskRatio'], 4)));
      }
    }
  }
  return lines.join('\n');
}

export async function topicList(admin: AdminClient): Promise<string> {
  return (await admin.topicList()).join('\n');
}

/** topicRoute: the route JSON as Java prints it (pretty, standard JSON). */
export async function topicRoute(admin: AdminClient, topic: string): Promise<string> {
  return JSON.stringify(await admin.topicRoute(topic), null, 2);
}

export interface UpdateTopicArgs {
  readonly topic: string;
  readonly cluster: string | null;
  readonly brokerAddr: string | null;
  readonly readQueueNums: number;
  readonly writeQueueNums: number;
  readonly perm: number;
  readonly order: boolean;
}

/** updateTopic: to one broker (-b) or to the master of every broker group of a cluster (-c). */
export async function updateTopic(admin: AdminClient, args: UpdateTopicArgs): Promise<string> {
  const options = { topic: args.topic, readQueueNums: args.readQueueNums, writeQueueNums: args.writeQueueNums, perm: args.perm, order: args.order };
  const config = `TopicConfig [topicName=${args.topic}, readQueueNums=${args.readQueueNums}, writeQueueNums=${args.writeQueueNums}, perm=${permText(args.perm)}, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=${args.order}]`;
  if (args.brokerAddr !== null) {
    await admin.updateTopic(args.brokerAddr, options);
    return `create topic to ${args.brokerAddr} success.\n${config}`;
  }
  if (args.cluster === null) throw new AdminError('updateTopic needs -c clusterName or -b brokerAddr');
  const info = await admin.clusterInfo();
  const [cluster] = clusterNames(info, args.cluster);
  const lines: string[] = [];
  for (const brokerName of [...(info.clusterAddrTable[cluster as string] ?? [])].sort()) {
    const data = brokerData(info, brokerName);
    const addr = data === null ? null : masterAddr(data);
    // Only a group's leader accepts writes; a group without one right now (an election) is an error
    // rather than a silent skip, so the operator knows the topic is not everywhere yet.
    if (addr === null) throw new AdminError(`broker group ${brokerName} of cluster ${cluster} has no master (BID 0) right now; retry once clusterList shows one`);
    await admin.updateTopic(addr, options);
    lines.push(`create topic to ${addr} success.`);
  }
  if (lines.length === 0) throw new AdminError(`cluster ${cluster} has no broker groups`);
  lines.push(config);
  return lines.join('\n');
}

function permText(perm: number): string {
  return `${(perm & 4) !== 0 ? 'R' : '-'}${(perm & 2) !== 0 ? 'W' : '-'}${(perm & 1) !== 0 ? 'X' : '-'}`;
}

/**
 * topicStatus: RocketMQ 4.9.4's TopicStatusSubCommand. GET_TOPIC_STATS_INFO to each broker group
 * serving the topic (its BID 0, else its lowest id: the numbers are replicated state), rows sorted
 * as MessageQueue compares (broker name, queue id): min and max offset and the store time of the
 * queue's last message (UtilAll.timeMillisToHumanString2, local time), empty for an empty queue.
 */
export async function topicStatus(admin: AdminClient, topic: string): Promise<string> {
  const route = await admin.topicRoute(topic);
  const row = '%-32s  %-4s  %-20s  %-20s    %s';
  const lines = [format(row, '#Broker Name', '#QID', '#Min Offset', '#Max Offset', '#Last Updated')];
  const stats = [];
  for (const data of [...route.brokerDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
    const addr = readableAddr(data);
    if (addr === null) throw new AdminError(`broker group ${data.brokerName} serving ${topic} has no live broker`);
    stats.push(...await admin.topicStats(addr, topic));
  }
  stats.sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
  for (const q of stats) lines.push(format(row, q.brokerName, q.queueId, q.minOffset, q.maxOffset, q.lastUpdateTimestamp > 0 ? humanTime(q.lastUpdateTimestamp) : ''));
  return lines.join('\n');
}

/** UtilAll.timeMillisToHumanString2: yyyy-MM-dd HH:mm:ss,SSS in local time. */
function humanTime(ms: number): string {
  const d = new Date(ms);
  return `${localDateTime(ms)},${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * queryMsgById: an offset message id (what the broker answers a send with: store host + commit-log
 * offset) decoded as RocketMQ's MessageDecoder does, then VIEW_MESSAGE_BY_ID to that host; printed
 * in the fields mqadmin shows.
 */
export async function queryMsgById(admin: AdminClient, msgId: string): Promise<string> {
  const { message, addr } = await viewMessageById(admin, msgId);
  return storedMessageText(msgId.toUpperCase(), addr, message);
}

/** The stored message an offset message id names (store host + commit-log offset), read from that host; AdminError for a bad id or answer. */
export async function viewMessageById(admin: AdminClient, msgId: string): Promise<{ message: StoredMessage; addr: string }> {
  let decoded;
  try {
    decoded = decodeMessageId(msgId);
  } catch (error) {
    if (error instanceof MessageFormatError) throw new AdminError(error.message);
    throw error;
  }
  const bytes = await admin.viewMessage(decoded.addr, decoded.physicalOffset);
  try {
    return { message: decodeMessage(bytes, 0), addr: decoded.addr };
  } catch (error) {
    if (error instanceof MessageFormatError) throw new AdminError(`${decoded.addr} answered a malformed message for ${msgId}: ${error.message}`);
    throw error;
  }
}

/** QueryMsgByIdSubCommand.printMsg's fields (also what queryMsgByOffset prints). */
function storedMessageText(offsetMsgId: string, storeHost: string, message: StoredMessage): string {
  const properties = parseMessageProperties(message.properties);
  const row = '%-20s %s';
  return [
    format(row, 'OffsetID:', offsetMsgId),
    format(row, 'Topic:', message.topic),
    format(row, 'Tags:', `[${properties.get('TAGS') ?? ''}]`),
    format(row, 'Keys:', `[${properties.get('KEYS') ?? ''}]`),
    format(row, 'Queue ID:', message.queueId),
    format(row, 'Queue Offset:', message.queueOffset),
    format(row, 'CommitLog Offset:', message.physicalOffset),
    format(row, 'Reconsume Times:', message.reconsumeTimes),
    format(row, 'Born Timestamp:', new Date(message.bornTimestampMs).toISOString()),
    format(row, 'Store Timestamp:', new Date(message.storeTimestampMs).toISOString()),
    format(row, 'Store Host:', storeHost),
    format(row, 'System Flag:', message.sysFlag),
    format(row, 'Properties:', JSON.stringify(Object.fromEntries(properties))),
    format(row, 'Message Body:', Buffer.from(message.body).toString('utf8')),
  ].join('\n');
}

function hostText(host: StoredMessage['storeHost']): string {
  const ip = host.ip.length === 4 ? [...host.ip].join('.') : `[${Buffer.from(host.ip).toString('hex').replace(/(.{4})(?!$)/g, '$1:')}]`;
  return `${ip}:${host.port}`;
}

const PULL_STATUS: Record<number, string> = { [ResponseCode.PULL_NOT_FOUND]: 'NO_NEW_MSG', [ResponseCode.PULL_RETRY_IMMEDIATELY]: 'NO_MATCHED_MSG', [ResponseCode.PULL_OFFSET_MOVED]: 'OFFSET_ILLEGAL' };

export interface QueryMsgByOffsetArgs {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
  readonly offset: number;
}

/**
 * queryMsgByOffset: RocketMQ's QueryMsgByOffsetSubCommand. One PULL_MESSAGE (maxMsgNums 1, group
 * TOOLS_CONSUMER) for the queue (topic, brokerName, queueId) at the offset, to the group's master
 * (else another member, as findBrokerAddressInSubscribe), printed as queryMsgById prints. Java prints
 * nothing when the pull finds no message (and exits 0); we do the same on stdout and say why on stderr.
 */
export async function queryMsgByOffset(admin: AdminClient, args: QueryMsgByOffsetArgs, warn: (line: string) => void): Promise<string> {
  const route = await admin.topicRoute(args.topic);
  const data = route.brokerDatas.find((d) => d.brokerName === args.brokerName);
  if (data === undefined) throw new AdminError(`broker group ${args.brokerName} does not serve ${args.topic} (route: ${route.brokerDatas.map((d) => d.brokerName).sort().join(', ') || 'none'})`);
  const addr = readableAddr(data);
  if (addr === null) throw new AdminError(`broker group ${args.brokerName} serving ${args.topic} has no live broker`);
  const pulled = await admin.pullAt(addr, args.topic, args.queueId, args.offset);
  const queue = `${args.topic}-${args.brokerName}-${args.queueId}`;
  if (pulled.code !== ResponseCode.SUCCESS || pulled.body === null || pulled.body.length === 0) {
    const status = PULL_STATUS[pulled.code] ?? `code ${pulled.code}`;
    warn(`queryMsgByOffset: no message at offset ${args.offset} of ${queue} on ${addr}: ${status} (the queue holds [${pulled.minOffset ?? '?'}, ${pulled.maxOffset ?? '?'}))`);
    return '';
  }
  let message;
  try {
    message = decodeMessage(pulled.body, 0);
  } catch (error) {
    if (error instanceof MessageFormatError) throw new AdminError(`${addr} answered a malformed message for offset ${args.offset} of ${queue}: ${error.message}`);
    throw error;
  }
  return storedMessageText(createMessageId(message.storeHost, message.physicalOffset), hostText(message.storeHost), message);
}

const QUERY_MSG_BY_KEY_MAX_NUM = 64;

/**
 * queryMsgByKey: QUERY_MESSAGE for topic#key to one live broker of every group serving the topic
 * (RocketMQ's MQAdminImpl.queryMessage, maxNum 64, all store times), keeping the messages whose
 * space-separated KEYS hold the key (the index matches by hash); printed in QueryMsgByKeySubCommand's
 * columns: message id (UNIQ_KEY, else the offset id), queue id, queue offset.
 */
export async function queryMsgByKey(admin: AdminClient, topic: string, key: string): Promise<string> {
  const route = await admin.topicRoute(topic);
  const row = '%-50s %4s %40s';
  const lines = [format(row, '#Message ID', '#QID', '#Offset')];
  for (const data of [...route.brokerDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
    const addr = readableAddr(data);
    if (addr === null) throw new AdminError(`broker group ${data.brokerName} serving ${topic} has no live broker`);
    const bytes = await admin.queryMessage(addr, topic, key, QUERY_MSG_BY_KEY_MAX_NUM, 0, Number.MAX_SAFE_INTEGER);
    let messages;
    try {
      messages = decodeMessages(bytes);
    } catch (error) {
      if (error instanceof MessageFormatError) throw new AdminError(`${addr} answered malformed messages for ${topic}#${key}: ${error.message}`);
      throw error;
    }
    for (const message of messages) {
      const properties = parseMessageProperties(message.properties);
      if (message.topic !== topic || !(properties.get('KEYS') ?? '').split(' ').includes(key)) continue;
      const msgId = properties.get('UNIQ_KEY') ?? createMessageId(message.storeHost, message.physicalOffset);
      lines.push(format(row, msgId, message.queueId, message.queueOffset));
    }
  }
  return lines.join('\n');
}

/**
 * consumerProgress: per queue the broker's max offset, the group's committed offset, the
 * difference and the store time of the last consumed message, from GET_CONSUME_STATS to each
 * broker group (its BID 0, else its lowest id: the numbers are replicated state), in RocketMQ
 * 4.9.4's columns and footer. #Client IP is N/A (Java asks each online consumer for its queues;
 * we do not). Consume TPS sums the brokers' rates, as Java's examineConsumeStats does.
 */
export async function consumerProgress(admin: AdminClient, group: string, onlyTopic: string | null): Promise<string> {
  const info = await admin.clusterInfo();
  const row = '%-64s  %-32s  %-4s  %-20s  %-20s  %-20s %-20s  %s';
  const lines = [format(row, '#Topic', '#Broker Name', '#QID', '#Broker Offset', '#Consumer Offset', '#Client IP', '#Diff', '#LastTime')];
  const queues: QueueConsumeStats[] = [];
  let consumeTps = 0;
  for (const brokerName of Object.keys(info.brokerAddrTable).sort()) {
    const data = brokerData(info, brokerName);
    const addr = data === null ? null : readableAddr(data);
    if (addr === null) continue;
    const stats = await admin.consumeStats(addr, group, onlyTopic);
    queues.push(...stats.queues);
    consumeTps += stats.consumeTps;
  }
  queues.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : a.queueId - b.queueId));
  let diffTotal = 0;
  for (const q of queues) {
    const diff = Math.max(0, q.brokerOffset - q.consumerOffset);
    diffTotal += diff;
    lines.push(format(row, q.topic, q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset, 'N/A', diff, q.lastTimestamp > 0 ? localDateTime(q.lastTimestamp) : 'N/A'));
  }
  if (queues.length === 0) throw new AdminError(`consumer group ${group} has no committed offsets${onlyTopic === null ? '' : ` on topic ${onlyTopic}`} (has it consumed and committed yet?)`);
  lines.push('', `Consume TPS: ${consumeTps.toFixed(2)}`, `Diff Total: ${diffTotal}`);
  return lines.join('\n');
}

/** Java's UtilAll.formatDate(date, "yyyy-MM-dd HH:mm:ss"), in local time. */
function localDateTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * dledgerStatus: per broker group, every member the name server lists with its Raft role, term,
 * leader, commit index and last index from GET_BROKER_RUNTIME_INFO. Lag is the leader's last index
 * minus the member's (entries it has yet to receive); the leader's own row shows 0. A member that
 * is down is not listed by the name server (its connection closed); the leader's per-peer section
 * below the rows (from its dLegerPeerProgress, when the broker publishes it) does list it.
 */
export async function dledgerStatus(admin: AdminClient, onlyCluster: string | null, warn: (line: string) => void): Promise<string> {
  const info = await admin.clusterInfo();
  const row = '%-16s  %-22s  %-4s  %-22s  %-6s  %-10s  %6s  %-8s  %12s  %12s  %8s  %12s  %12s  %6s';
  const lines = [format(row, '#Cluster Name', '#Group', '#BID', '#Addr', '#Self', '#Role', '#Term', '#Leader', '#CommitIndex', '#LastIndex', '#Lag', '#FirstIndex', '#RetainedMiB', '#Disk')];
  for (const cluster of clusterNames(info, onlyCluster)) {
    for (const brokerName of [...(info.clusterAddrTable[cluster] ?? [])].sort()) {
      const data = brokerData(info, brokerName);
      if (data === null) continue;
      const members: Array<{ id: number; addr: string; table: Record<string, string> | null }> = [];
      for (const [id, addr] of sortedBrokerAddrs(data)) {
        try {
          members.push({ id, addr, table: await admin.runtimeInfo(addr) });
        } catch (error) {
          warn(`dledgerStatus: ${(error as Error).message}`);
          members.push({ id, addr, table: null });
        }
      }
      const leader = members.find((member) => member.table?.['dLegerRole'] === 'leader');
      const leaderLast = leader === undefined ? NaN : Number(leader.table?.['dLegerLastIndex']);
      for (const { id, addr, table } of members) {
        if (table === null) {
          lines.push(format(row, cluster, brokerName, id, addr, '?', 'unreachable', '', '', '', '', '', '', '', ''));
          continue;
        }
        if (table['dLegerRole'] === undefined) {
          // A broker without Raft fields in its runtime info (not a DLedger broker, or an older one).
          lines.push(format(row, cluster, brokerName, id, addr, '-', 'no-dledger', '', '', '', '', '', '', '', ''));
          continue;
        }
        const last = Number(table['dLegerLastIndex']);
        const lag = Number.isFinite(leaderLast) && Number.isFinite(last) ? String(Math.max(0, leaderLast - last)) : '?';
        // The retained range (retention moves the first index) and the commit log's disk usage.
        const retainedBytes = Number(table['dLegerRetainedBytes'] ?? NaN);
        const retained = Number.isFinite(retainedBytes) ? (retainedBytes / (1024 * 1024)).toFixed(1) : '-';
        lines.push(format(row, cluster, table['dLegerGroup'] ?? brokerName, id, addr, table['dLegerSelfId'] ?? '?', table['dLegerRole'], table['dLegerTerm'] ?? '?', table['dLegerLeaderId'] || '-', table['dLegerCommitIndex'] ?? '?', table['dLegerLastIndex'] ?? '?', lag,
          table['dLegerFirstIndex'] ?? '-', retained, fixed(table['commitLogDiskRatio'], 4)));
      }
      if (leader === undefined) {
        lines.push(`  (group ${brokerName}: no member reports itself leader right now)`);
        continue;
      }
      lines.push(...peerProgressLines(brokerName, leader.table as Record<string, string>, leaderLast));
    }
  }
  return lines.join('\n');
}

/** The runtime-info key where a leader may publish its per-peer replication progress (JSON). */
export const PEER_PROGRESS_KEY = 'dLegerPeerProgress';

interface PeerProgressView {
  readonly match?: number;
  readonly next?: number;
  readonly state?: string;
  readonly recentActive?: boolean;
}

/**
 * The leader's own view of every peer (match index, lag, replication state), when its runtime info
 * carries `dLegerPeerProgress` = {"n1":{"match":..,"next":..,"state":..,"recentActive":..}}. Unlike
 * the member rows this includes peers that are down (the name server no longer lists them), which
 * is what an operator checking a group's health needs. Brokers without the key get a note.
 */
function peerProgressLines(brokerName: string, table: Record<string, string>, leaderLast: number): string[] {
  const text = table[PEER_PROGRESS_KEY];
  if (text === undefined || text === '') return [`  (group ${brokerName}: the leader's runtime info has no ${PEER_PROGRESS_KEY}; per-peer match indexes unavailable)`];
  let progress: Record<string, PeerProgressView>;
  try {
    progress = JSON.parse(text) as Record<string, PeerProgressView>;
  } catch {
    return [`  (group ${brokerName}: ${PEER_PROGRESS_KEY} is not JSON: ${JSON.stringify(text.slice(0, 80))})`];
  }
  const row = '  %-8s  %12s  %8s  %-10s  %s';
  const lines = [format(row, '#Peer', '#MatchIndex', '#Lag', '#State', '#Active')];
  for (const peer of Object.keys(progress).sort()) {
    const view = progress[peer] ?? {};
    const match = typeof view.match === 'number' ? view.match : NaN;
    const lag = Number.isFinite(match) && Number.isFinite(leaderLast) ? String(Math.max(0, leaderLast - match)) : '?';
    lines.push(format(row, peer, Number.isFinite(match) ? match : '?', lag, view.state ?? '?', view.recentActive === undefined ? '?' : view.recentActive ? 'yes' : 'no'));
  }
  return lines;
}
