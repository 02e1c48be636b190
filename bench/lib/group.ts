// Goal: one way for the benchmarks to wait for a started group's leader and to tear a group down
// (cluster.ts starts groups from this build, ab.ts from two builds; both stop them the same way).
import fs from 'node:fs';
import { DLedgerClient } from '../../src/client/client.js';
import { stopNode, until, type NodeProcess } from '../../test/cluster/helpers.js';

/** The member processes of one benchmark group and the directory they store in. */
export interface BenchNodes {
  readonly peers: string;
  /** The group secret file the members were started with (their client secret too). */
  readonly secretFile?: string;
  readonly nodes: readonly NodeProcess[];
  readonly baseDir: string;
}

/** Stop every member and remove the group's data. */
export async function stopBenchNodes(started: BenchNodes): Promise<void> {
  for (const node of started.nodes) await stopNode(node);
  fs.rmSync(started.baseDir, { recursive: true, force: true });
}

/** Resolve once a member names a leader (20 s); otherwise stop the group and rethrow. */
export async function awaitLeaderOrStop(group: string, started: BenchNodes, what: string): Promise<void> {
  const client = new DLedgerClient({ group, peers: started.peers, retryTimeoutMs: 20_000, ...(started.secretFile === undefined ? {} : { clientSecretFile: started.secretFile }) });
  try {
    await until(async () => (await client.metadata()).leaderId, 20_000, what);
  } catch (error) {
    await stopBenchNodes(started);
    throw error;
  } finally {
    client.close();
  }
}
