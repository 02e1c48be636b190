// The console's picture of every cluster: clusters and broker groups from the name server
// (GET_BROKER_CLUSTER_INFO), each member's Raft state from its own GET_BROKER_RUNTIME_INFO (the
// same requests mqadmin clusterList / dledgerStatus make, through the same AdminClient), and the
// leader's per-peer progress. A member the name server no longer lists (it died: its connection
// closed) still shows, as not live, when the leader's progress names it or the console saw it
// before: that is what an operator watching a failover needs.
import { AdminClient, sortedBrokerAddrs, type ClusterInfoView } from '../admin/admin-client.js';
import { PEER_PROGRESS_KEY } from '../admin/commands.js';

export interface MemberView {
  readonly cluster: string;
  readonly brokerName: string;
  /** The name server's broker id (0 = master/leader); null when the name server does not list it. */
  readonly bid: number | null;
  readonly addr: string | null;
  /** Answered its runtime info in this poll. */
  readonly live: boolean;
  readonly error: string | null;
  readonly selfId: string | null;
  readonly role: string | null;
  readonly term: number | null;
  readonly leaderId: string | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly lastIndex: number | null;
  readonly firstIndex: number | null;
  readonly putTps: number | null;
  readonly getTps: number | null;
  readonly diskRatio: number | null;
  /** The broker's Prometheus port for its DLedger member (runtime info dLegerMetricsPort), if it serves one. */
  readonly metricsPort: number | null;
  /** The address its endpoint is bound to (runtime info dLegerMetricsHost; 0.0.0.0 = every interface). */
  readonly metricsHost: string | null;
}

export interface PeerView {
  readonly id: string;
  readonly matchIndex: number | null;
  /** Leader's last index minus the peer's match index. */
  readonly lag: number | null;
  readonly state: string | null;
  readonly active: boolean | null;
}

export interface GroupView {
  readonly cluster: string;
  readonly brokerName: string;
  /** selfId of the member that reports itself leader, or null (an election, or no DLedger). */
  readonly leader: string | null;
  readonly term: number | null;
  readonly members: MemberView[];
  /** The leader's view of its followers (empty without a leader). */
  readonly peers: PeerView[];
}

export interface ClusterSnapshot {
  /** Wall-clock ms of the poll (shown as "updated at"). */
  readonly atMs: number;
  readonly clusters: Array<{ readonly name: string; readonly groups: GroupView[] }>;
  /** The name server could not be asked: the reason (the rest of the snapshot is empty). */
  readonly error: string | null;
  /** A broker refused our unsigned request as an ACL broker does (RocketMQ NO_PERMISSION, "unsigned request"). */
  readonly aclRefused: boolean;
}

/** Groups per snapshot at most (a name server holding more is shown truncated). */
export const MAX_GROUPS = 256;
/** Members remembered after they vanish from the name server, over all groups. */
export const MAX_REMEMBERED_MEMBERS = 1024;

const num = (text: string | undefined): number | null => {
  if (text === undefined || text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
};

interface ProgressEntry {
  match?: unknown;
  state?: unknown;
  recentActive?: unknown;
}

function parseProgress(text: string | undefined, leaderLast: number | null): PeerView[] {
  if (text === undefined || text === '') return [];
  let progress: Record<string, ProgressEntry>;
  try {
    progress = JSON.parse(text) as Record<string, ProgressEntry>;
  } catch {
    return [];
  }
  if (typeof progress !== 'object' || progress === null) return [];
  return Object.keys(progress).sort().slice(0, 64).map((id) => {
    const p = progress[id] ?? {};
    const match = typeof p.match === 'number' ? p.match : null;
    return {
      id,
      matchIndex: match,
      lag: match !== null && leaderLast !== null ? Math.max(0, leaderLast - match) : null,
      state: typeof p.state === 'string' ? p.state : null,
      active: typeof p.recentActive === 'boolean' ? p.recentActive : null,
    };
  });
}

/** Runtime info of one broker, or why not (bounded by the client's timeout). */
async function probe(admin: AdminClient, addr: string): Promise<{ table: Record<string, string> | null; error: string | null }> {
  try {
    return { table: await admin.runtimeInfo(addr), error: null };
  } catch (error) {
    return { table: null, error: (error as Error).message };
  }
}

function memberFrom(cluster: string, brokerName: string, bid: number | null, addr: string | null, table: Record<string, string> | null, error: string | null): MemberView {
  const t = table ?? {};
  return {
    cluster, brokerName, bid, addr, live: table !== null, error,
    selfId: t['dLegerSelfId'] ?? null,
    role: t['dLegerRole'] ?? null,
    term: num(t['dLegerTerm']),
    leaderId: t['dLegerLeaderId'] === undefined || t['dLegerLeaderId'] === '' ? null : t['dLegerLeaderId'],
    commitIndex: num(t['dLegerCommitIndex']),
    appliedIndex: num(t['dLegerAppliedIndex']),
    lastIndex: num(t['dLegerLastIndex']),
    firstIndex: num(t['dLegerFirstIndex']),
    putTps: num(t['putTps']?.split(' ')[0]),
    getTps: num(t['getTransferredTps']?.split(' ')[0]),
    diskRatio: num(t['commitLogDiskRatio']),
    metricsPort: num(t['dLegerMetricsPort']),
    metricsHost: t['dLegerMetricsHost'] ?? null,
  };
}

/**
 * Polls the name server and every member it lists; remembers (bounded) the address of each
 * member seen, so a member that died shows as not live instead of vanishing.
 */
export class ClusterViewer {
  /** `${brokerName}/${selfId}` → last address and cluster it had. */
  private readonly remembered = new Map<string, { cluster: string; addr: string }>();

  constructor(private readonly admin: () => AdminClient) {}

  async snapshot(nowMs: number): Promise<ClusterSnapshot> {
    const admin = this.admin();
    let info: ClusterInfoView;
    try {
      info = await admin.clusterInfo();
    } catch (error) {
      return { atMs: nowMs, clusters: [], error: (error as Error).message, aclRefused: false };
    }
    let aclRefused = false;
    const clusters: Array<{ name: string; groups: GroupView[] }> = [];
    let groupsLeft = MAX_GROUPS;
    for (const name of Object.keys(info.clusterAddrTable).sort()) {
      const names = [...(info.clusterAddrTable[name] ?? [])].sort().slice(0, Math.max(0, groupsLeft));
      groupsLeft -= names.length;
      const groups = await Promise.all(names.map(async (brokerName): Promise<GroupView> => {
        const data = info.brokerAddrTable[brokerName];
        const listed = data === undefined ? [] : sortedBrokerAddrs(data);
        const probed = await Promise.all(listed.map(async ([bid, addr]) => {
          const { table, error } = await probe(admin, addr);
          if (error !== null && /code 16\b.*unsigned/.test(error)) aclRefused = true;
          return { member: memberFrom(name, brokerName, bid, addr, table, error), table };
        }));
        const members = probed.map((p) => p.member);
        for (const m of members) if (m.selfId !== null && m.addr !== null) this.remember(`${brokerName}/${m.selfId}`, { cluster: name, addr: m.addr });
        const leaderProbe = probed.find((p) => p.member.role === 'leader') ?? null;
        const leaderMember = leaderProbe?.member ?? null;
        const peers = leaderProbe === null ? [] : parseProgress(leaderProbe.table?.[PEER_PROGRESS_KEY], leaderProbe.member.lastIndex);
        // Members the name server dropped: named by the leader's progress or remembered from before.
        const present = new Set(members.map((m) => m.selfId).filter((id): id is string => id !== null));
        const missing = new Set<string>(peers.map((p) => p.id).filter((id) => !present.has(id)));
        for (const key of this.remembered.keys()) {
          const [group, selfId] = key.split('/') as [string, string];
          if (group === brokerName && !present.has(selfId)) missing.add(selfId);
        }
        const gone = await Promise.all([...missing].sort().map(async (selfId) => {
          const addr = this.remembered.get(`${brokerName}/${selfId}`)?.addr ?? null;
          // Not listed: ask it anyway (it may be up but not registered yet, e.g. just restarted).
          const { table, error } = addr === null ? { table: null, error: 'not registered with the name server; address unknown' } : await probe(admin, addr);
          const member = memberFrom(name, brokerName, null, addr, table, error ?? 'not registered with the name server');
          return { ...member, selfId: member.selfId ?? selfId };
        }));
        const all = [...members, ...gone].sort((a, b) => (a.selfId ?? '').localeCompare(b.selfId ?? ''));
        return { cluster: name, brokerName, leader: leaderMember?.selfId ?? null, term: leaderMember?.term ?? null, members: all, peers };
      }));
      clusters.push({ name, groups });
    }
    return { atMs: nowMs, clusters, error: null, aclRefused };
  }

  private remember(key: string, value: { cluster: string; addr: string }): void {
    this.remembered.delete(key);
    this.remembered.set(key, value);
    // Invariant: at most MAX_REMEMBERED_MEMBERS entries (the oldest go first).
    while (this.remembered.size > MAX_REMEMBERED_MEMBERS) this.remembered.delete(this.remembered.keys().next().value as string);
  }
}

