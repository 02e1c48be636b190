// The shapes the console API answers (src/console/cluster-view.ts, poller.ts, data-api.ts).
export interface MemberView {
  cluster: string;
  brokerName: string;
  bid: number | null;
  addr: string | null;
  live: boolean;
  error: string | null;
  selfId: string | null;
  role: string | null;
  term: number | null;
  leaderId: string | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  lastIndex: number | null;
  firstIndex: number | null;
  putTps: number | null;
  getTps: number | null;
  diskRatio: number | null;
  metricsPort: number | null;
  metricsHost: string | null;
}
export interface PeerView { id: string; matchIndex: number | null; lag: number | null; state: string | null; active: boolean | null }
export interface GroupView { cluster: string; brokerName: string; leader: string | null; term: number | null; members: MemberView[]; peers: PeerView[] }
export interface ClusterSnapshot { atMs: number; clusters: Array<{ name: string; groups: GroupView[] }>; error: string | null; aclRefused: boolean }
export interface GroupSample { leader: string | null; term: number | null; putTps: number; commitIndex: number | null; lag: Record<string, number>; commitP50Ms: number | null; commitP99Ms: number | null; appendTps: Record<string, number> }
export interface Sample { atMs: number; groups: Record<string, GroupSample> }
