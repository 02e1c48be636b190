// The name server's tables (RouteInfoManager): which brokers are alive, which broker groups form
// each cluster, and which queues each topic has on which group. No I/O and no clock of its own:
// callers pass the time and the connection a registration came from, so tests drive expiry and
// connection loss directly.
//
// Brokers of one brokerName with different brokerIds form one BrokerData; id 0 is the master
// (the DLedger leader). A registration first removes the same address under another id, so a
// follower that became leader moves from id N to id 0 instead of appearing twice. Queue data
// comes only from the master's registrations, and survives while any broker of the group lives,
// so a group keeps its topics through a failover.
import { assert } from '../util/assert.js';
import { MASTER_ID, type BrokerData, type ClusterInfo, type DataVersion, type QueueData, type TopicConfig, type TopicRouteData } from './route-types.js';

export interface BrokerRegistration {
  readonly clusterName: string;
  readonly brokerName: string;
  readonly brokerAddr: string;
  readonly brokerId: number;
  readonly haServerAddr: string;
  /** The broker's topics; null when the registration carries none (it then changes no queue data). */
  readonly topicConfigs: readonly TopicConfig[] | null;
  readonly dataVersion: DataVersion | null;
  /** The connection it came on: closing that connection removes the broker. */
  readonly connectionId: number;
  /** How long the broker stays listed without re-registering. */
  readonly expiryMs: number;
}

export interface RegisterResult {
  /** The group's master when the registrant is not it, for a slave's HA link. */
  readonly masterAddr: string | null;
  readonly haServerAddr: string | null;
}

interface BrokerLiveInfo {
  lastUpdateMs: number;
  expiryMs: number;
  connectionId: number;
  haServerAddr: string;
  dataVersion: DataVersion | null;
}

export class RouteInfo {
  /** topic → brokerName → queues of that topic on that group. */
  private readonly topicQueueTable = new Map<string, Map<string, QueueData>>();
  private readonly brokerAddrTable = new Map<string, BrokerData>();
  private readonly clusterAddrTable = new Map<string, Set<string>>();
  /** brokerAddr → liveness. Invariant: every address listed in a BrokerData has an entry here. */
  private readonly brokerLiveTable = new Map<string, BrokerLiveInfo>();

  constructor(private readonly log: (line: string) => void = () => undefined) {}

  register(registration: BrokerRegistration, nowMs: number): RegisterResult {
    const { clusterName, brokerName, brokerAddr, brokerId } = registration;
    assert(Number.isSafeInteger(brokerId), `brokerId ${brokerId} is not an integer`);
    let brokerNames = this.clusterAddrTable.get(clusterName);
    if (brokerNames === undefined) this.clusterAddrTable.set(clusterName, (brokerNames = new Set()));
    brokerNames.add(brokerName);

    let brokerData = this.brokerAddrTable.get(brokerName);
    if (brokerData === undefined) {
      brokerData = { cluster: clusterName, brokerName, brokerAddrs: new Map(), enableActingMaster: false };
      this.brokerAddrTable.set(brokerName, brokerData);
    }
    for (const [id, addr] of brokerData.brokerAddrs) {
      if (addr === brokerAddr && id !== brokerId) {
        this.log(`namesrv: broker ${brokerName} ${brokerAddr} moves from id ${id} to id ${brokerId}`);
        brokerData.brokerAddrs.delete(id);
      }
    }
    const previous = brokerData.brokerAddrs.get(brokerId);
    if (previous !== undefined && previous !== brokerAddr) {
      // Another address held this id (e.g. the old leader at id 0): it stays alive in the live
      // table and is listed again when it re-registers under its new id.
      this.log(`namesrv: broker ${brokerName} id ${brokerId} is now ${brokerAddr} (was ${previous})`);
    }
    brokerData.brokerAddrs.set(brokerId, brokerAddr);
    if (previous === undefined) this.log(`namesrv: new broker ${clusterName}/${brokerName} id ${brokerId} at ${brokerAddr}`);

    if (brokerId === MASTER_ID && registration.topicConfigs !== null) {
      for (const topic of registration.topicConfigs) this.updateQueueData(brokerName, topic);
    }
    this.brokerLiveTable.set(brokerAddr, {
      lastUpdateMs: nowMs,
      expiryMs: registration.expiryMs,
      connectionId: registration.connectionId,
      haServerAddr: registration.haServerAddr,
      dataVersion: registration.dataVersion,
    });

    if (brokerId === MASTER_ID) return { masterAddr: null, haServerAddr: null };
    const masterAddr = brokerData.brokerAddrs.get(MASTER_ID) ?? null;
    return { masterAddr, haServerAddr: masterAddr === null ? null : (this.brokerLiveTable.get(masterAddr)?.haServerAddr ?? null) };
  }

  /** A graceful shutdown: removes the broker if it is still listed under that id. */
  unregister(clusterName: string, brokerName: string, brokerAddr: string, brokerId: number): boolean {
    const brokerData = this.brokerAddrTable.get(brokerName);
    // Only when the id still maps to this address: a demoted leader shutting down must not
    // take the new leader's id-0 entry with it.
    if (brokerData === undefined || brokerData.cluster !== clusterName || brokerData.brokerAddrs.get(brokerId) !== brokerAddr) return false;
    this.log(`namesrv: broker ${clusterName}/${brokerName} id ${brokerId} at ${brokerAddr} unregistered`);
    this.removeAddress(brokerAddr);
    return true;
  }

  /** The connection closed: every broker that registered on it is gone. Returns their addresses. */
  onConnectionClosed(connectionId: number): string[] {
    const gone = [...this.brokerLiveTable].filter(([, info]) => info.connectionId === connectionId).map(([addr]) => addr);
    for (const addr of gone) {
      this.log(`namesrv: the connection of broker ${addr} closed, removing it`);
      this.removeAddress(addr);
    }
    return gone;
  }

  /** Remove brokers that have not re-registered within their expiry. Returns their addresses. */
  scanNotActive(nowMs: number): string[] {
    const gone = [...this.brokerLiveTable].filter(([, info]) => nowMs - info.lastUpdateMs > info.expiryMs).map(([addr]) => addr);
    for (const addr of gone) {
      this.log(`namesrv: broker ${addr} did not re-register in time, removing it`);
      this.removeAddress(addr);
    }
    return gone;
  }

  topicRoute(topic: string): TopicRouteData | null {
    const queues = this.topicQueueTable.get(topic);
    if (queues === undefined || queues.size === 0) return null;
    const queueDatas = [...queues.values()].sort((a, b) => compare(a.brokerName, b.brokerName));
    const brokerDatas: BrokerData[] = [];
    for (const queueData of queueDatas) {
      const brokerData = this.brokerAddrTable.get(queueData.brokerName);
      if (brokerData !== undefined) brokerDatas.push(cloneBrokerData(brokerData));
    }
    if (brokerDatas.length === 0) return null;
    return { queueDatas: queueDatas.map((q) => ({ ...q })), brokerDatas, filterServerTable: {} };
  }

  clusterInfo(): ClusterInfo {
    const brokerAddrTable: Record<string, BrokerData> = Object.create(null) as Record<string, BrokerData>;
    for (const name of [...this.brokerAddrTable.keys()].sort(compare)) brokerAddrTable[name] = cloneBrokerData(this.brokerAddrTable.get(name) as BrokerData);
    const clusterAddrTable: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
    for (const [cluster, names] of this.clusterAddrTable) clusterAddrTable[cluster] = [...names].sort(compare);
    return { brokerAddrTable, clusterAddrTable };
  }

  /** Remove a topic's queue data (every group's, or only those of clusterName's groups). True if any went. */
  deleteTopic(topic: string, clusterName: string | null): boolean {
    const queues = this.topicQueueTable.get(topic);
    if (queues === undefined) return false;
    if (clusterName === null) {
      this.topicQueueTable.delete(topic);
    } else {
      const names = this.clusterAddrTable.get(clusterName);
      if (names === undefined) return false;
      for (const name of names) queues.delete(name);
      if (queues.size === 0) this.topicQueueTable.delete(topic);
    }
    this.log(`namesrv: topic ${topic} deleted${clusterName === null ? '' : ` from cluster ${clusterName}`}`);
    return true;
  }

  topics(): string[] {
    return [...this.topicQueueTable.keys()].sort(compare);
  }

  /** Number of broker addresses alive (for logs and tests). */
  get liveBrokerCount(): number {
    return this.brokerLiveTable.size;
  }

  private updateQueueData(brokerName: string, topic: TopicConfig): void {
    let queues = this.topicQueueTable.get(topic.topicName);
    if (queues === undefined) {
      this.topicQueueTable.set(topic.topicName, (queues = new Map()));
      this.log(`namesrv: new topic ${topic.topicName} on ${brokerName}`);
    }
    queues.set(brokerName, {
      brokerName,
      readQueueNums: topic.readQueueNums,
      writeQueueNums: topic.writeQueueNums,
      perm: topic.perm,
      topicSysFlag: topic.topicSysFlag,
    });
  }

  /** Drop an address everywhere; a group left with no address loses its cluster entry and queues. */
  private removeAddress(brokerAddr: string): void {
    this.brokerLiveTable.delete(brokerAddr);
    for (const [brokerName, brokerData] of this.brokerAddrTable) {
      for (const [id, addr] of brokerData.brokerAddrs) if (addr === brokerAddr) brokerData.brokerAddrs.delete(id);
      if (brokerData.brokerAddrs.size > 0) continue;
      this.brokerAddrTable.delete(brokerName);
      const names = this.clusterAddrTable.get(brokerData.cluster);
      names?.delete(brokerName);
      if (names !== undefined && names.size === 0) this.clusterAddrTable.delete(brokerData.cluster);
      for (const [topic, queues] of this.topicQueueTable) {
        queues.delete(brokerName);
        if (queues.size === 0) this.topicQueueTable.delete(topic);
      }
      this.log(`namesrv: broker group ${brokerName} has no broker left; its topics' queues on it are removed`);
    }
  }
}

function cloneBrokerData(data: BrokerData): BrokerData {
  return { ...data, brokerAddrs: new Map([...data.brokerAddrs].sort(([a], [b]) => a - b)) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
