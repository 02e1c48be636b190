// Goal: one seeded fault campaign against a real 3-member group, end to end.
// Method: start the proxied cluster and client loops; until the deadline, repeat
// (pick a fault from the enabled families with a seeded PRNG, inject it, hold it, heal, let the
// group recover); then heal everything, wait (bounded) until every member reports the same
// commit index, keep a quiet period, stop members cleanly, read every member's files with
// openLogReader and run the checkers. Every process is stopped by pid in a finally block.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLogReader } from '../../src/store/index.js';
import { until } from '../cluster/helpers.js';
import { CHAOS_SEGMENTS, ChaosCluster } from './cluster.js';
import { describePowerLoss } from './power-loss-disk.js';
import { checkLogs, type CheckResult, type MemberLog, type RetentionBound } from './checkers.js';
import { performance } from 'node:perf_hooks';
import { formatRetentionStats, retentionStatsOf, type RetentionStats } from './retention-stats.js';
import { ClientLoops, summarize, type History } from './history.js';
import { CampaignObservers, formatReadsSummary, type ObservedFields } from './linearizable-campaign.js';

export type FaultFamily = 'kill' | 'pause' | 'partition' | 'power' | 'slow-disk' | 'duplicate' | 'disk-full';
/** Every family; `disk-full` mounts a tmpfs per member (root), so it runs only when named. */
export const FAULT_FAMILIES: readonly FaultFamily[] = ['kill', 'pause', 'partition', 'power', 'slow-disk', 'duplicate', 'disk-full'];
export const DEFAULT_FAULT_FAMILIES: readonly FaultFamily[] = FAULT_FAMILIES.filter((family) => family !== 'disk-full');
/** With disk-full: each member on a tmpfs this big, and segments small enough to need new ones often. */
const SMALL_DISK_BYTES = 256 * 1024 * 1024;
const SMALL_DISK_SEGMENTS = { dataSegmentSizeBytes: 64 * 1024, indexSegmentSizeBytes: 32 * 1024 } as const;
/**
 * With retention on: segments small enough to roll every second or two at campaign throughput
 * (~300 entries per data segment, 256 per index segment), so retention deletes many in a minute.
 */
export const RETENTION_SEGMENTS = { dataSegmentSizeBytes: 16 * 1024, indexSegmentSizeBytes: 8 * 1024 } as const;
/** With retention on, every this many faults one is a follower killed long enough to need a snapshot. */
const LAG_EVERY_FAULTS = 8;
/** With retention on, the healed time with appends after the last fault beyond the reserved time. */
const RETENTION_SETTLE_EXTRA_MS = 5000;
/** Slack of the retention bound (checkers.ts RetentionBound.slackMs): mtime granularity of a shared mapping. */
const RETENTION_SLACK_MS = 500;
/** Families that need the members' fault journal (src/store/fault-journal.ts). */
const JOURNAL_FAMILIES: ReadonlySet<FaultFamily> = new Set(['power', 'slow-disk']);

export interface CampaignOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly faults: readonly FaultFamily[];
  readonly clients?: number;
  readonly clientMode?: 'single-attempt' | 'library-retry';
  readonly flush?: 'sync' | 'async';
  readonly flushIntervalMs?: number;
  /** Group size, 3 (default) or 5. */
  readonly members?: number;
  readonly baseDir?: string;
  readonly keepData?: boolean;
  readonly log?: (line: string) => void;
  /** Linearizable reads interleaved with the appends and checked as a register (default true). */
  readonly reads?: boolean;
  /**
   * Retention on: RETENTION_SEGMENTS, deleteWhen=*, fileReservedHours = this many seconds, so
   * segments are deleted during the run; every LAG_EVERY_FAULTS-th fault (the first included) kills
   * a follower for the reserved time + 6 s, so the leader deletes what it needs and it catches up
   * by snapshot install; after the last fault the group runs healed, with appends, for the reserved
   * time + 5 s. The checker then bounds what may be missing (checkers.ts RetentionBound).
   */
  readonly retentionSeconds?: number;
}

/** DLedger's retention keys for a campaign: every hour is deletion time, segments expire after `seconds`. */
export function retentionConfig(seconds: number): string[] {
  const hours = seconds / 3600;
  return [`fileReservedHours=${String(Number(hours.toFixed(9)))}`, 'deleteWhen=*'];
}

export interface FaultRecord {
  readonly atMs: number;
  readonly family: FaultFamily;
  readonly description: string;
  readonly holdMs: number;
}

/** reads/linearizability (null with reads off), leaders and throughput come from linearizable-campaign.ts. */
export interface CampaignReport extends ObservedFields {
  readonly seed: number;
  readonly durationMs: number;
  readonly faultFamilies: readonly FaultFamily[];
  readonly faults: FaultRecord[];
  readonly operations: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly converged: boolean;
  readonly finalCommitIndexes: Record<string, number>;
  readonly lastIndexes: Record<string, number>;
  readonly check: CheckResult;
  readonly violations: string[];
  readonly proxyStats: Record<string, unknown>;
  readonly unexpectedExits: ChaosCluster['unexpectedExits'];
  /** Members that stopped themselves on a full disk (disk-full family): expected. */
  readonly diskFullStops: ChaosCluster['diskFullStops'];
  /** Each member's first retained index in its final files (> 0: its retention deleted segments). */
  readonly firstIndexes: Record<string, number>;
  /** With retention on: deletions and snapshot installs read from the members' output; else null. */
  readonly retention: (RetentionStats & { readonly reservedSeconds: number }) | null;
  readonly baseDir: string;
}

/** mulberry32: small, seedable, good enough to pick faults reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Read one member's whole log from its files. */
export function readMemberLog(id: string, nodeDir: string, segments: ChaosCluster['segments'] = CHAOS_SEGMENTS): MemberLog {
  const reader = openLogReader({ nodeDir, ...segments });
  const decoder = new TextDecoder();
  try {
    const last = reader.lastIndex();
    const entries = [];
    let first = -1;
    for (let index = 0; index <= last; index++) {
      const entry = reader.get(index);
      if (entry === null) {
        if (entries.length === 0) continue; // below a truncation floor
        throw new Error(`${id}: index ${index} unreadable below lastIndex ${last}`);
      }
      if (entries.length === 0) first = index;
      entries.push({ index: entry.index, term: entry.term, pos: entry.pos, magic: entry.magic, body: decoder.decode(entry.body) });
    }
    return { id, firstIndex: first === -1 ? last + 1 : first, entries };
  } finally {
    reader.close();
  }
}


export interface FinalCheck {
  readonly history: History;
  readonly converged: boolean;
  readonly commitIndexes: Record<string, number>;
  readonly logs: MemberLog[];
  readonly lastIndexes: Record<string, number>;
  readonly check: CheckResult;
  readonly violations: string[];
}

/**
 * The end of every campaign and fault test: heal everything, stop the clients (stopClients), wait
 * (≤ 30 s) until every member reports the same commit index under one leader, keep a quiet second,
 * stop the members cleanly, read their files and run the checkers. Crashes and non-convergence
 * are violations too.
 */
export async function healConvergeAndCheck(cluster: ChaosCluster, stopClients: () => Promise<History>, convergeTimeoutMs = 30_000, retention?: { readonly reservedMs: number; readonly forcedOn: () => ReadonlySet<string> }): Promise<FinalCheck> {
  const ids = cluster.ids;
  cluster.healAll();
  const history = await stopClients();
  let converged = true;
  let commitIndexes: Record<string, number> = {};
  try {
    await until(async () => {
      const statuses = await cluster.statuses();
      if (statuses.length !== ids.length) return false;
      const leaders = statuses.filter((s) => s.leaderId === s.id);
      if (leaders.length !== 1) return false;
      const commits = new Set(statuses.map((s) => s.commitIndex));
      if (commits.size !== 1) return false;
      commitIndexes = Object.fromEntries(statuses.map((s) => [s.id, s.commitIndex]));
      return true;
    }, convergeTimeoutMs, 'every member to report the same commit index under one leader');
  } catch {
    converged = false;
    commitIndexes = Object.fromEntries((await cluster.statuses()).map((s) => [s.id, s.commitIndex]));
  }
  await sleep(1000); // quiet period
  await cluster.stopAll('SIGTERM');
  const logs = ids.map((id) => readMemberLog(id, cluster.nodeDir(id), cluster.segments));
  const lastIndexes = Object.fromEntries(logs.map((l) => [l.id, l.entries.length === 0 ? l.firstIndex - 1 : l.entries[l.entries.length - 1]!.index]));
  const knownCommits = Object.values(commitIndexes);
  const committedEnd = Math.min(...(knownCommits.length > 0 ? knownCommits : [-1]), ...Object.values(lastIndexes));
  const bound: RetentionBound | undefined = retention === undefined ? undefined : { reservedMs: retention.reservedMs, checkedAtMs: performance.now(), slackMs: RETENTION_SLACK_MS, forcedOn: retention.forcedOn() };
  const check = checkLogs(history, logs, committedEnd, bound);
  const violations = [...check.violations];
  for (const exit of cluster.unexpectedExits) violations.push(`crash: ${exit.id} (pid ${exit.pid}) exited by itself with code ${exit.code} signal ${exit.signal}; output tail: ${JSON.stringify(exit.outputTail.slice(-1500))}`);
  if (!converged) violations.push(`convergence: members did not agree on one commit index within ${convergeTimeoutMs / 1000} s after healing (${JSON.stringify(commitIndexes)})`);
  return { history, converged, commitIndexes, logs, lastIndexes, check, violations };
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const log = options.log ?? (() => undefined);
  // Two streams: the schedule (family, hold, recovery) depends on the seed alone; the targets
  // stream is also consumed differently depending on who leads at the time.
  const schedule = prng(options.seed);
  const random = prng(options.seed ^ 0x9e3779b9);
  const pick = <T>(items: readonly T[], from: () => number = random): T => items[Math.floor(from() * items.length)]!;
  const between = (lo: number, hi: number): number => Math.round(lo + schedule() * (hi - lo));
  const baseDir = options.baseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `dledger-chaos-${options.seed}-`));
  const startedAt = Date.now();
  const faults: FaultRecord[] = [];
  const retentionMs = options.retentionSeconds === undefined ? null : options.retentionSeconds * 1000;
  const cluster = await ChaosCluster.start({
    group: 'chaos',
    baseDir,
    size: options.members ?? 3,
    flush: options.flush,
    flushIntervalMs: options.flushIntervalMs,
    faultJournal: options.faults.some((family) => JOURNAL_FAMILIES.has(family)),
    ...(options.faults.includes('disk-full') ? { smallDiskBytes: SMALL_DISK_BYTES, segments: SMALL_DISK_SEGMENTS } : {}),
    ...(retentionMs === null ? {} : { segments: options.faults.includes('disk-full') ? SMALL_DISK_SEGMENTS : RETENTION_SEGMENTS, extraConfig: retentionConfig(options.retentionSeconds!) }),
    log: (line) => log(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`) });
  let loops: ClientLoops | null = null;
  let observers: CampaignObservers | null = null;
  try {
    // Poll leadership from the start, so the timeline shows the first leader too.
    observers = new CampaignObservers(cluster, startedAt, { reads: options.reads }).startPolling();
    await until(() => cluster.leader(), 20_000, 'a first leader');
    loops = new ClientLoops({ group: 'chaos', peers: cluster.realPeers, clients: options.clients ?? 3, retryTimeoutMs: 3000, requestTimeoutMs: 1500, thinkMs: 5, maxOpsPerClient: 1_000_000, mode: options.clientMode });
    observers.startReads('chaos');
    const deadline = Date.now() + options.durationMs;
    const ids = cluster.ids;
    while (Date.now() < deadline) {
      let family = pick(options.faults, schedule);
      let holdMs = between(2000, 3500);
      const leader = await cluster.leader();
      let description: string;
      if (retentionMs !== null && faults.length % LAG_EVERY_FAULTS === 0 && leader !== null) {
        // A follower down while the others delete what it needs: it must come back by snapshot.
        const target = pick(ids.filter((id) => id !== leader));
        family = 'kill';
        holdMs = retentionMs + 6000;
        description = `kill -9 ${target} (follower, held past the reserved time: lagging behind retention)`;
        await cluster.kill(target);
      } else if (family === 'kill') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        description = `kill -9 ${target}${target === leader ? ' (leader)' : ''}`;
        await cluster.kill(target);
      } else if (family === 'pause') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        description = `SIGSTOP ${target}${target === leader ? ' (leader)' : ''} for ${holdMs} ms`;
        cluster.pause(target);
      } else if (family === 'power') {
        // One member (often the leader), or a majority at once, sometimes the whole group.
        const shuffled = [...ids].sort(() => random() - 0.5);
        const roll = random();
        const majority = Math.floor(ids.length / 2) + 1;
        const targets = roll < 0.4 ? [random() < 0.5 && leader !== null ? leader : shuffled[0]!] : roll < 0.85 ? shuffled.slice(0, majority) : shuffled;
        const reports = await cluster.powerLoss(targets, random);
        description = `power loss of ${targets.join(',')}${targets.includes(leader ?? '') ? ` (leader ${leader})` : ''}: ${reports.map(describePowerLoss).join(' | ')}`;
      } else if (family === 'disk-full') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        const bytes = cluster.fillDisk(target);
        description = `disk full on ${target}${target === leader ? ' (leader)' : ''} (${bytes} bytes taken)`;
      } else if (family === 'slow-disk') {
        const target = random() < 0.5 && leader !== null ? leader : pick(ids);
        const delayMs = 50 + Math.round(random() * 450);
        description = `slow disk on ${target}${target === leader ? ' (leader)' : ''}: +${delayMs} ms per flush`;
        cluster.slowDisk(target, delayMs);
      } else if (family === 'duplicate') {
        const everyLink = random() < 0.5;
        description = everyLink ? 'duplicate every peer frame on every link' : `duplicate every peer frame to and from ${leader ?? 'n0'}`;
        for (const from of ids) for (const to of ids) {
          if (from !== to && (everyLink || from === (leader ?? 'n0') || to === (leader ?? 'n0'))) cluster.setLink(from, to, { kind: 'duplicate' });
        }
      } else {
        const kinds = ids.length >= 5 ? (['isolate', 'isolate-leader', 'halves', 'asymmetric', 'ring'] as const) : (['isolate', 'isolate-leader', 'halves', 'asymmetric'] as const);
        const kind = pick<(typeof kinds)[number]>(kinds);
        if (kind === 'isolate' || (kind === 'isolate-leader' && leader === null)) {
          const target = pick(ids);
          description = `isolate ${target}`;
          cluster.isolate(target, random() < 0.5 ? { kind: 'cut' } : { kind: 'drop' });
        } else if (kind === 'isolate-leader') {
          description = `isolate leader ${leader}`;
          cluster.isolate(leader!);
        } else if (kind === 'ring') {
          const ring = [...ids].sort(() => random() - 0.5);
          description = `majorities ring ${ring.join('-')}-${ring[0]} (each member reaches only its two ring neighbours)`;
          cluster.ring(ring);
        } else if (kind === 'halves') {
          const shuffled = [...ids].sort(() => random() - 0.5);
          const minority = shuffled.slice(0, 1 + Math.floor(random() * Math.floor((ids.length - 1) / 2)));
          const majority = shuffled.slice(minority.length);
          description = `halves [${minority.join(',')}] | [${majority.join(',')}] with 50 ms delay inside the majority`;
          cluster.partition(minority, majority);
          for (const a of majority) for (const b of majority) if (a !== b) cluster.setLink(a, b, { kind: 'delay', ms: 50 });
        } else {
          const from = pick(ids);
          const to = pick(ids.filter((id) => id !== from));
          description = `asymmetric ${from} -> ${to} cut`;
          cluster.asymmetric(from, to);
        }
      }
      faults.push({ atMs: Date.now() - startedAt, family, description, holdMs });
      log(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] fault ${faults.length}: ${description}, hold ${holdMs} ms`);
      await sleep(Math.min(holdMs, Math.max(0, deadline - Date.now()) + 500));
      cluster.healAll();
      await sleep(between(1500, 3000));
    }

    if (retentionMs !== null) {
      // Healed, appends going on for the reserved time + 5 s: a member that caught up by a late
      // snapshot install fills and expires a segment of its own too, so every member's retention
      // has run by the check (seen in CI: n0 installed twice in the last seconds, deleted none).
      cluster.healAll();
      log(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] retention settle: ${retentionMs + RETENTION_SETTLE_EXTRA_MS} ms healed, appends going on`);
      await sleep(retentionMs + RETENTION_SETTLE_EXTRA_MS);
    }
    // Heal, stop the clients, and let the group converge.
    const stopping = loops;
    loops = null;
    const reading = observers;
    const outputs = (): Map<string, string[]> => new Map(ids.map((id) => [id, cluster.outputsOf(id)]));
    const retentionCheck = retentionMs === null ? undefined : { reservedMs: retentionMs, forcedOn: () => new Set(Object.entries(retentionStatsOf(outputs()).forcedRuns).filter(([, n]) => n > 0).map(([id]) => id)) };
    const { history, converged, commitIndexes, lastIndexes, logs, check, violations } = await healConvergeAndCheck(cluster, async () => (await Promise.all([stopping.stop(), reading.stopReads()]))[0], 30_000, retentionCheck);
    const firstIndexes = Object.fromEntries(logs.map((l) => [l.id, l.firstIndex]));
    await reading.stop();
    const { violations: readViolations, ...observed } = reading.finish(history);
    violations.push(...readViolations);
    const counts = summarize(history);
    return {
      seed: options.seed,
      durationMs: Date.now() - startedAt,
      faultFamilies: options.faults,
      faults,
      ...counts,
      converged,
      finalCommitIndexes: commitIndexes,
      lastIndexes,
      check,
      violations,
      proxyStats: cluster.proxyStats(),
      unexpectedExits: cluster.unexpectedExits,
      diskFullStops: cluster.diskFullStops,
      firstIndexes,
      retention: retentionMs === null ? null : { reservedSeconds: retentionMs / 1000, ...retentionStatsOf(outputs()) },
      baseDir,
      ...observed,
    };
  } finally {
    if (loops !== null) await loops.stop().catch(() => undefined);
    await observers?.stop().catch(() => undefined);
    await cluster.close();
    const left = cluster.runningPids();
    if (left.length > 0) throw new Error(`chaos cluster left processes running: ${left.join(', ')}`);
    if (options.keepData !== true) cluster.removeData();
  }
}

/** The readable summary printed by the CLI and the CI test. */
export function formatSummary(report: CampaignReport): string {
  const byFamily = new Map<string, number>();
  for (const f of report.faults) byFamily.set(f.family, (byFamily.get(f.family) ?? 0) + 1);
  const lines = [
    `seed ${report.seed}, ${(report.durationMs / 1000).toFixed(1)} s, families ${report.faultFamilies.join(',')}`,
    `faults injected: ${report.faults.length} (${[...byFamily].map(([k, v]) => `${k} ${v}`).join(', ')})`,
    ...(report.diskFullStops.length > 0 ? [`members stopped on a full disk (exit 3, expected): ${report.diskFullStops.length}`] : []),
    `operations: ${report.operations} (ok ${report.ok}, fail ${report.fail}, unknown ${report.unknown})`,
    `acknowledged: ${report.check.acknowledged}, lost: ${report.check.lost}, duplicates: ${report.check.duplicates}, phantoms: ${report.check.phantoms}, divergences: ${report.check.divergences}`,
    ...(report.retention !== null ? [`${formatRetentionStats(report.retention, report.firstIndexes)}; acknowledged appends deleted by retention on every member ${report.check.expired}, on some ${report.check.expiredOnSome} (reserved ${report.retention.reservedSeconds} s)`] : []),
    `unacknowledged appends present: ${report.check.unacknowledgedPresent}; refused (never sent or refused) appends present: ${report.check.refusedPresent}; committed end ${report.check.committedEnd}; converged ${report.converged}`,
    ...formatReadsSummary(report),
    `violations: ${report.violations.length}`,
    ...report.violations.map((v) => `  ${v}`),
  ];
  return lines.join('\n');
}
