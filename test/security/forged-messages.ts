// The forged Raft messages of the peer-port attack tests (issue 11), shared by the plain DLedger
// group test (peer-attacks.test.ts) and the broker group test (broker-peer-attacks.test.ts).
// Each names its victim by role, who it pretends to come from, and the message built from what a
// running group shows (its term, its commit index) — all an outsider can learn. What each did on
// the build before peer authentication is in its `before` line. Not a test file itself.

export interface GroupView {
  readonly leader: string;
  readonly followers: readonly string[];
  readonly term: number;
  readonly commitIndex: number;
  /** Term of the entry at commitIndex - 1 (the forged conflicting Append's prevLogTerm). */
  readonly prevTerm: number;
}

export interface ForgedAttack {
  readonly name: string;
  /** What the message did on the build before peer authentication. */
  readonly before: string;
  victim(view: GroupView): string;
  from(view: GroupView): string;
  message(view: GroupView): Record<string, unknown>;
  /** A body that must end up in no member's log. */
  readonly forbiddenBody?: string;
}

const follower = (view: GroupView, i: number): string => view.followers[i] as string;

export const FORGED_ATTACKS: readonly ForgedAttack[] = [
  {
    name: 'forged Snapshot (index far above commit, size 0) to a follower',
    before: 'the follower reset its log to the snapshot and deleted its segments',
    victim: (v) => follower(v, 0),
    from: (v) => v.leader,
    message: ({ term, commitIndex }) => ({ type: 'Snapshot', term, snapshot: { index: commitIndex + 1000, term, sizeBytes: 0 }, offset: 0, data: new Uint8Array(0), done: true }),
  },
  {
    name: 'forged Vote with transfer:true to the leader',
    before: 'the leader stepped down and voted: a new election at will',
    victim: (v) => v.leader,
    from: (v) => follower(v, 0),
    message: ({ term, commitIndex }) => ({ type: 'Vote', term: term + 1, lastLogIndex: commitIndex + 1000, lastLogTerm: term, transfer: true }),
  },
  {
    name: 'forged Heartbeat (higher term, high commitIndex) to a follower',
    before: 'the follower took the higher term and committed its uncommitted tail',
    victim: (v) => follower(v, 0),
    from: (v) => follower(v, 1),
    message: ({ term, commitIndex }) => ({ type: 'Heartbeat', term: term + 1, commitIndex: commitIndex + 1000, readCtx: '', sentAtTick: 0 }),
  },
  {
    name: 'forged AppendResp with a huge index to the leader',
    before: 'the leader counted a match far past its log and committed on its own copy',
    victim: (v) => v.leader,
    from: (v) => follower(v, 0),
    message: ({ term }) => ({ type: 'AppendResp', term, reject: false, index: 1_000_000, conflictTerm: 0, conflictIndex: -1 }),
  },
  {
    name: 'forged Append that conflicts with a committed entry, to a follower',
    before: 'the follower hit the committed-entry conflict assertion and exited (FATAL, exit 3)',
    victim: (v) => follower(v, 0),
    from: (v) => v.leader,
    message: ({ term, commitIndex, prevTerm }) => ({ type: 'Append', term: term + 1, prevLogIndex: commitIndex - 1, prevLogTerm: prevTerm, entries: [{ index: commitIndex, term: term + 1, type: 1, data: new TextEncoder().encode('forged-by-the-attacker') }], commitIndex: -1 }),
    forbiddenBody: 'forged-by-the-attacker',
  },
];

/** Unauthenticated client operations on the peer port: an append and a leadership transfer. */
export function clientOps(view: GroupView, body: string): Array<Record<string, unknown>> {
  return [{ id: 1, op: 'append', bodies: [new TextEncoder().encode(body)] }, { id: 2, op: 'transfer', to: follower(view, 0) }];
}
