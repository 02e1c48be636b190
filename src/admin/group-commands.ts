// mqadmin's group and topic admin sub-commands that use the admin codes of issue 14 (RocketMQ
// 4.9.4's UpdateSubGroupSubCommand, DeleteSubscriptionGroupCommand, DeleteTopicSubCommand,
// ConsumerConnectionSubCommand, ResetOffsetByTimeCommand + ResetOffsetByTimeOldCommand), with
// their flags and output lines, plus transferLeadership (ours). Each returns the text to print.
import { subscriptionGroupText } from '../broker/state/subscription-groups.js';
import { AdminClient, AdminError, masterAddr, readableAddr, type ClusterInfoView, type ConsumerConnectionView, type SubscriptionGroupView } from './admin-client.js';
import { MQVersionNames } from './mq-version.js';

const pad = (text: string | number, width: number): string => String(text).padEnd(width);

/** The master (BID 0) of every group of the cluster; AdminError when the cluster is unknown or a group has none now. */
export async function masterAddrsOfCluster(admin: AdminClient, cluster: string): Promise<string[]> {
  const info = await admin.clusterInfo();
  const names = info.clusterAddrTable[cluster];
  if (names === undefined) throw new AdminError(`cluster ${cluster} is not registered with the name server (known: ${Object.keys(info.clusterAddrTable).sort().join(', ') || 'none'})`);
  return [...names].sort().map((brokerName) => {
    const data = info.brokerAddrTable[brokerName];
    const addr = data === undefined ? null : masterAddr(data);
    if (addr === null) throw new AdminError(`broker group ${brokerName} of cluster ${cluster} has no master (BID 0) right now; retry once clusterList shows one`);
    return addr;
  });
}

export interface SubGroupArgs {
  readonly config: SubscriptionGroupView;
  readonly brokerAddr: string | null;
  readonly cluster: string | null;
}

/** updateSubGroup: to one broker (-b) or to the master of every group of a cluster (-c). */
export async function updateSubGroup(admin: AdminClient, args: SubGroupArgs): Promise<string> {
  const c = args.config;
  const text = subscriptionGroupText(c);
  const addrs = args.brokerAddr !== null ? [args.brokerAddr] : await masterAddrsOfCluster(admin, args.cluster as string);
  const lines: string[] = [];
  for (const addr of addrs) {
    await admin.updateSubscriptionGroup(addr, c);
    lines.push(`create subscription group to ${addr} success.`);
  }
  lines.push(text);
  return lines.join('\n');
}

/** deleteSubGroup: with -c also the group's %RETRY% and %DLQ% topics, as Java's does. */
export async function deleteSubGroup(admin: AdminClient, group: string, brokerAddr: string | null, cluster: string | null, removeOffset: boolean): Promise<string> {
  if (brokerAddr !== null) {
    await admin.deleteSubscriptionGroup(brokerAddr, group, removeOffset);
    return `delete subscription group [${group}] from broker [${brokerAddr}] success.`;
  }
  const addrs = await masterAddrsOfCluster(admin, cluster as string);
  for (const addr of addrs) await admin.deleteSubscriptionGroup(addr, group, removeOffset);
  const lines = [`delete subscription group [${group}] from cluster [${cluster}] success.`];
  for (const topic of [`%RETRY%${group}`, `%DLQ%${group}`]) lines.push(await deleteTopic(admin, topic, cluster as string));
  return lines.join('\n');
}

/** deleteTopic -t -c: DELETE_TOPIC_IN_BROKER to every master of the cluster, then DELETE_TOPIC_IN_NAMESRV to every name server. */
export async function deleteTopic(admin: AdminClient, topic: string, cluster: string): Promise<string> {
  for (const addr of await masterAddrsOfCluster(admin, cluster)) await admin.deleteTopicInBroker(addr, topic);
  const lines = [`delete topic [${topic}] from cluster [${cluster}] success.`];
  await admin.deleteTopicInNamesrv(topic);
  lines.push(`delete topic [${topic}] from NameServer success.`);
  return lines.join('\n');
}

/**
 * The group's connections merged over every broker group serving %RETRY%<group> (Java's
 * examineConsumerConnectionInfo asks one member of each: the master, else another); AdminError
 * "Not found the consumer group connection" when no broker has one.
 */
export async function examineConsumerConnection(admin: AdminClient, group: string): Promise<ConsumerConnectionView> {
  const route = await admin.topicRoute(`%RETRY%${group}`).catch((error: unknown) => {
    if (error instanceof AdminError && /does not exist/.test(error.message)) throw new AdminError(`consumer group ${group} has no %RETRY%${group} route: it never sent a heartbeat here`);
    throw error;
  });
  let merged: ConsumerConnectionView | null = null;
  const seen = new Set<string>();
  const connectionSet: Array<ConsumerConnectionView['connectionSet'][number]> = [];
  const subscriptionTable: Record<string, ConsumerConnectionView['subscriptionTable'][string]> = {};
  for (const data of [...route.brokerDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName))) {
    const addr = readableAddr(data);
    if (addr === null) continue;
    const view = await admin.consumerConnection(addr, group);
    if (view === null) continue;
    merged = view;
    for (const c of view.connectionSet) if (!seen.has(c.clientId)) seen.add(c.clientId), connectionSet.push(c);
    Object.assign(subscriptionTable, view.subscriptionTable);
  }
  if (merged === null || connectionSet.length === 0) throw new AdminError(`Not found the consumer group connection (group ${group}: CONSUMER_NOT_ONLINE on every broker)`);
  return { ...merged, connectionSet, subscriptionTable };
}

/** consumerConnection -g: ConsumerConnectionSubCommand's lines. */
export async function consumerConnection(admin: AdminClient, group: string): Promise<string> {
  const cc = await examineConsumerConnection(admin, group);
  const lines: string[] = [];
  cc.connectionSet.forEach((conn, i) => {
    lines.push(`${String(i + 1).padStart(3, '0')}  ${pad(conn.clientId, 32)} ${pad(conn.clientAddr, 22)} ${pad(conn.language, 8)} ${MQVersionNames.desc(conn.version)}`);
  });
  lines.push('', 'Below is subscription:');
  Object.values(cc.subscriptionTable).forEach((sd, i) => lines.push(`${String(i + 1).padStart(3, '0')}  Topic: ${pad(sd.topic, 40)} SubExpression: ${sd.subString}`));
  lines.push('', `ConsumeType: ${cc.consumeType}`, `MessageModel: ${cc.messageModel}`, `ConsumeFromWhere: ${cc.consumeFromWhere}`);
  return lines.map((l) => l.trimEnd()).join('\n');
}

/**
 * ResetOffsetByTimeCommand's -s: "now", milliseconds (-1: the queue ends), or
 * yyyy-MM-dd#HH:mm:ss:SSS in local time (UtilAll.YYYY_MM_DD_HH_MM_SS_SSS); AdminError otherwise.
 */
export function parseResetTimestamp(text: string, nowMs: number): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  if (/^-?[0-9]{1,16}$/.test(t)) return Number(t);
  const m = /^(\d{4})-(\d\d)-(\d\d)#(\d\d):(\d\d):(\d\d):(\d{3})$/.exec(t);
  if (m === null) throw new AdminError(`-s ${JSON.stringify(text)}: expected now, milliseconds, or yyyy-MM-dd#HH:mm:ss:SSS`);
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  if (date.getMonth() !== mo - 1 || date.getDate() !== d || h > 23 || mi > 59 || s > 59) throw new AdminError(`-s ${JSON.stringify(text)} is not a valid date`);
  return date.getTime();
}

export interface ResetRow {
  readonly brokerName: string;
  readonly queueId: number;
  readonly brokerOffset: number;
  readonly consumerOffset: number;
  readonly timestampOffset: number;
  readonly resetOffset: number;
}

export interface ResetOutcome {
  /** 'broker': INVOKE_BROKER_TO_RESET_OFFSET (the group was online); 'old': UPDATE_CONSUMER_OFFSET per queue (it was not). */
  readonly method: 'broker' | 'old';
  readonly rows: ResetRow[];
}

/**
 * resetOffsetByTime's work: INVOKE_BROKER_TO_RESET_OFFSET to each group master serving the topic;
 * if the consumer group is not online (CONSUMER_NOT_ONLINE), Java's old method: per queue the
 * offset by time (SEARCH_OFFSET_BY_TIMESTAMP, or GET_MAX_OFFSET for -1) written with
 * UPDATE_CONSUMER_OFFSET when forced or lower than the committed one.
 */
export async function resetOffsetByTimestamp(admin: AdminClient, group: string, topic: string, timestamp: number, force: boolean, isC = false): Promise<ResetOutcome> {
  const route = await admin.topicRoute(topic);
  const datas = [...route.brokerDatas].sort((a, b) => a.brokerName.localeCompare(b.brokerName));
  const rows: ResetRow[] = [];
  let online = false;
  for (const data of datas) {
    const addr = masterAddr(data);
    if (addr === null) throw new AdminError(`broker group ${data.brokerName} serving ${topic} has no master (BID 0) right now; retry once clusterList shows one`);
    const answer = await admin.resetOffsetByTimestamp(addr, topic, group, timestamp, force, isC);
    if (!answer.online) {
      if (online) throw new AdminError(`${data.brokerName}: ${answer.remark}`);
      break;
    }
    online = true;
    for (const o of answer.offsets.sort((a, b) => a.queueId - b.queueId)) rows.push({ brokerName: o.brokerName, queueId: o.queueId, brokerOffset: -1, consumerOffset: -1, timestampOffset: o.offset, resetOffset: o.offset });
  }
  if (online) return { method: 'broker', rows };
  for (const data of datas) {
    const addr = masterAddr(data) as string;
    const stats = await admin.consumeStats(addr, group, topic);
    let queues = stats.queues.filter((q) => q.topic === topic).map((q) => ({ queueId: q.queueId, brokerOffset: q.brokerOffset, consumerOffset: q.consumerOffset }));
    if (queues.length === 0) {
      // Never consumed here: every queue from its minimum, as resetOffsetByTimestampOld does with the topic stats.
      queues = (await admin.topicStats(addr, topic)).map((s) => ({ queueId: s.queueId, brokerOffset: s.maxOffset, consumerOffset: s.minOffset }));
    }
    for (const q of queues.sort((a, b) => a.queueId - b.queueId)) {
      const timestampOffset = timestamp === -1 ? await admin.maxOffset(addr, topic, q.queueId) : await admin.searchOffset(addr, topic, q.queueId, timestamp);
      let resetOffset = q.consumerOffset;
      if (force || timestampOffset <= q.consumerOffset) {
        resetOffset = timestampOffset;
        await admin.updateConsumerOffset(addr, group, topic, q.queueId, timestampOffset);
      }
      rows.push({ brokerName: data.brokerName, queueId: q.queueId, brokerOffset: q.brokerOffset, consumerOffset: q.consumerOffset, timestampOffset, resetOffset });
    }
  }
  return { method: 'old', rows };
}

/** resetOffsetByTime -g -t -s [-f]: the new command's table, or the old command's when the group is offline. */
export async function resetOffsetByTime(admin: AdminClient, group: string, topic: string, timestampText: string, force: boolean, nowMs = Date.now()): Promise<string> {
  const timestamp = parseResetTimestamp(timestampText, nowMs);
  const outcome = await resetOffsetByTimestamp(admin, group, topic, timestamp, force);
  const head = `rollback consumer offset by specified ${outcome.method === 'broker' ? 'group' : 'consumerGroup'}[${group}], topic[${topic}], force[${force}], timestamp(string)[${timestampText}], timestamp(long)[${timestamp}]`;
  if (outcome.method === 'broker') {
    return [head, `${pad('#brokerName', 40)}  ${pad('#queueId', 40)}  #offset`, ...outcome.rows.map((r) => `${pad(r.brokerName, 40)}  ${pad(r.queueId, 40)}  ${r.resetOffset}`)].join('\n');
  }
  const row = (cols: Array<string | number>): string => cols.map((c, i) => (i === cols.length - 1 ? String(c) : pad(c, 20))).join('  ');
  return [head, row(['#brokerName', '#queueId', '#brokerOffset', '#consumerOffset', '#timestampOffset', '#resetOffset']),
    ...outcome.rows.map((r) => row([r.brokerName, r.queueId, r.brokerOffset, r.consumerOffset, r.timestampOffset, r.resetOffset]))].join('\n');
}

/** transferLeadership -b brokerName -i memberId (ours): the group's master hands leadership to the member. */
export async function transferLeadership(admin: AdminClient, brokerName: string, transferee: string): Promise<string> {
  const info: ClusterInfoView = await admin.clusterInfo();
  const data = info.brokerAddrTable[brokerName];
  if (data === undefined) throw new AdminError(`broker group ${brokerName} is not registered with the name server`);
  const addr = masterAddr(data);
  if (addr === null) throw new AdminError(`broker group ${brokerName} has no master (BID 0) right now; retry once clusterList shows one`);
  await admin.transferLeadership(addr, transferee);
  return `transfer leadership of ${brokerName} from ${addr} to ${transferee} success.`;
}
