// Goal: judge a campaign's final member logs against the client history. Pure functions over plain
// data, so tests can feed them hand-made histories and logs and prove each check bites.
// Checks (each failure is one violation string, prefixed by its kind):
//   lost       — an acknowledged append is missing from a member's log at its acknowledged index;
//   moved      — that index holds something else (other body, term or pos than acknowledged);
//   duplicate  — a client value appears more than once in one member's log;
//   phantom    — an entry no client tried to append (normal entries must carry an invoked value;
//                the only others allowed are empty NOOP entries a new leader writes);
//   divergence — members differ in (index, term, pos, magic, body) at or below the committed end
//                (the shortest committed end over members), or a member's log is shorter than it;
//   refused-present — a failed append (history.ts: definitely refused or never sent) is in a
//                member's log, at any index (committed or not): the client's proof was wrong;
//   retention  — (with `retention` given) a member's log start is past the committed end, or an
//                acknowledged append below a member's log start was invoked less than the
//                reserved time (minus slack) before the files were read: retention deleted it
//                too early (or something else cut the log's front).
// Below a member's log start (its first retained index) an acknowledged append is not looked for
// on that member: retention deleted it there. It is still checked on every member that retains
// it; when no member does, it counts as `expired` (deleted by retention everywhere), not lost —
// with `retention` only if it is older than the reserved time.
// Unknown appends may be present or absent, but at most once.
import { EntryMagic } from '../../src/store/index.js';
import type { History } from './history.js';
import { Violations } from './violations.js';

export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly pos: number;
  readonly magic: number;
  readonly body: string;
}

/** One member's final log, dense from firstIndex to its last index. */
export interface MemberLog {
  readonly id: string;
  readonly firstIndex: number;
  readonly entries: readonly LogEntry[];
}

export interface CheckResult {
  readonly acknowledged: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly phantoms: number;
  readonly divergences: number;
  readonly unacknowledgedPresent: number;
  /** Failed (provably not applied) appends found in some member's log: each one a violation. */
  readonly refusedPresent: number;
  readonly committedEnd: number;
  /** Acknowledged appends below every member's log start: deleted by retention everywhere. */
  readonly expired: number;
  /** Acknowledged appends below some (not every) member's log start, checked on the others. */
  readonly expiredOnSome: number;
  readonly violations: string[];
}

/** What retention may have deleted: segments last written more than reservedMs before checkedAtMs. */
export interface RetentionBound {
  /** fileReservedHours / fileReservedTime in ms. */
  readonly reservedMs: number;
  /** performance.now() (the history's clock) when the members' files were read. */
  readonly checkedAtMs: number;
  /**
   * Tolerance for the store's clock (a segment's mtime: a shared mapping updates it at the first
   * write fault after a writeback, not at every store, so it can be one flush interval early).
   */
  readonly slackMs: number;
  /** Members that cleaned forcibly (disk over its force-clean ratio): they may delete unexpired segments. */
  readonly forcedOn?: ReadonlySet<string>;
}

export function checkLogs(history: History, logs: readonly MemberLog[], committedEnd: number, retention?: RetentionBound): CheckResult {
  const found = new Violations();
  const violate = found.violate.bind(found);
  const invoked = new Set(history.ops.map((op) => op.value));
  const acked = history.ops.filter((op) => op.outcome?.type === 'ok');
  const byMember = logs.map((log) => {
    const at = new Map<number, LogEntry>();
    const positions = new Map<string, number[]>();
    for (const entry of log.entries) {
      at.set(entry.index, entry);
      if (entry.magic === EntryMagic.Noop) {
        if (entry.body.length !== 0) violate('phantom', `${log.id} index ${entry.index}: NOOP entry with a ${entry.body.length}-char body`);
        continue;
      }
      if (entry.magic !== EntryMagic.Normal) {
        violate('phantom', `${log.id} index ${entry.index}: entry with magic ${entry.magic}`);
        continue;
      }
      if (!invoked.has(entry.body)) violate('phantom', `${log.id} index ${entry.index}: ${JSON.stringify(entry.body.slice(0, 64))} was never appended by a client`);
      const list = positions.get(entry.body);
      if (list === undefined) positions.set(entry.body, [entry.index]);
      else list.push(entry.index);
    }
    return { log, at, positions };
  });

  if (retention !== undefined) {
    for (const log of logs) {
      if (log.firstIndex > committedEnd + 1) violate('retention', `${log.id}'s log starts at ${log.firstIndex}, past the committed end ${committedEnd} (retention may delete only committed entries)`);
    }
  }
  let lost = 0;
  let expired = 0;
  let expiredOnSome = 0;
  for (const op of acked) {
    const ok = op.outcome as { index: number; term: number; pos: number };
    let below = 0;
    for (const { log, at } of byMember) {
      // Below a member's log start the entry was deleted by its retention (forced cleaning on a
      // full disk included): it is checked on the members that still hold it.
      if (ok.index < log.firstIndex) {
        below++;
        if (retention !== undefined && retention.forcedOn?.has(log.id) !== true) {
          const ageMs = retention.checkedAtMs - op.invokeMs;
          if (ageMs + retention.slackMs < retention.reservedMs) violate('retention', `${op.value} acknowledged at index ${ok.index} is below ${log.id}'s log start ${log.firstIndex}, but was appended only ${Math.round(ageMs)} ms before the check (reserved ${retention.reservedMs} ms)`);
        }
        continue;
      }
      const entry = at.get(ok.index);
      if (entry === undefined) {
        lost++;
        violate('lost', `${op.value} acknowledged at index ${ok.index} (term ${ok.term}) is missing on ${log.id}`);
      } else if (entry.body !== op.value || entry.term !== ok.term || entry.pos !== ok.pos) {
        lost++;
        violate('moved', `${op.value} acknowledged at index ${ok.index} term ${ok.term} pos ${ok.pos}; ${log.id} has ${JSON.stringify(entry.body.slice(0, 64))} term ${entry.term} pos ${entry.pos}`);
      }
    }
    if (below === byMember.length && below > 0) expired++;
    else if (below > 0) expiredOnSome++;
  }

  const outcomeOf = new Map(history.ops.map((op) => [op.value, op.outcome?.type ?? 'pending']));
  let duplicates = 0;
  for (const { log, positions } of byMember) {
    for (const [value, indexes] of positions) {
      if (indexes.length > 1) {
        duplicates++;
        violate('duplicate', `${value} (client outcome ${outcomeOf.get(value)}) appears ${indexes.length} times on ${log.id} (indexes ${indexes.slice(0, 5).join(', ')})`);
      }
    }
  }

  // Every pair of members from where both retain entries up to the committed end: identical.
  let divergences = 0;
  for (let r = 0; r < byMember.length; r++) {
    const reference = byMember[r]!;
    for (const other of byMember.slice(r + 1)) {
      const start = Math.max(reference.log.firstIndex, other.log.firstIndex);
      for (let index = start; index <= committedEnd; index++) {
        const a = reference.at.get(index);
        const b = other.at.get(index);
        if (a === undefined || b === undefined) {
          divergences++;
          violate('divergence', `index ${index} at or below the committed end ${committedEnd} is missing on ${a === undefined ? reference.log.id : other.log.id}`);
          continue;
        }
        if (a.term !== b.term || a.pos !== b.pos || a.magic !== b.magic || a.body !== b.body) {
          divergences++;
          violate('divergence', `index ${index}: ${reference.log.id} has term ${a.term} pos ${a.pos} ${JSON.stringify(a.body.slice(0, 32))}, ${other.log.id} has term ${b.term} pos ${b.pos} ${JSON.stringify(b.body.slice(0, 32))}`);
        }
      }
    }
  }
  const phantoms = found.count('phantom');

  const ackedValues = new Set(acked.map((op) => op.value));
  const present = new Set<string>();
  for (const { positions } of byMember) for (const value of positions.keys()) if (!ackedValues.has(value)) present.add(value);
  const refused = new Set<string>();
  for (const op of history.ops) {
    if (op.outcome?.type !== 'fail') continue;
    for (const { log, positions } of byMember) {
      const indexes = positions.get(op.value);
      if (indexes === undefined) continue;
      refused.add(op.value);
      violate('refused-present', `${op.value} failed (${op.outcome.error.slice(0, 120)}) yet ${log.id} holds it at index ${indexes.slice(0, 5).join(', ')}`);
    }
  }

  return { acknowledged: acked.length, lost, duplicates, phantoms, divergences, unacknowledgedPresent: present.size, refusedPresent: refused.size, committedEnd, expired, expiredOnSome, violations: found.list };
}
