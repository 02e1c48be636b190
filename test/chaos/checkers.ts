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
//                member's log, at any index (committed or not): the client's proof was wrong.
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
  readonly violations: string[];
}

export function checkLogs(history: History, logs: readonly MemberLog[], committedEnd: number): CheckResult {
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

  let lost = 0;
  for (const op of acked) {
    const ok = op.outcome as { index: number; term: number; pos: number };
    for (const { log, at } of byMember) {
      // Below a member's log start the entry was deleted by its retention (forced cleaning on a
      // full disk included): it is checked on the members that still hold it.
      if (ok.index < log.firstIndex) continue;
      const entry = at.get(ok.index);
      if (entry === undefined) {
        lost++;
        violate('lost', `${op.value} acknowledged at index ${ok.index} (term ${ok.term}) is missing on ${log.id}`);
      } else if (entry.body !== op.value || entry.term !== ok.term || entry.pos !== ok.pos) {
        lost++;
        violate('moved', `${op.value} acknowledged at index ${ok.index} term ${ok.term} pos ${ok.pos}; ${log.id} has ${JSON.stringify(entry.body.slice(0, 64))} term ${entry.term} pos ${entry.pos}`);
      }
    }
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

  let divergences = 0;
  if (byMember.length > 0) {
    const reference = byMember[0]!;
    const start = Math.max(...logs.map((l) => l.firstIndex));
    for (const other of byMember.slice(1)) {
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

  return { acknowledged: acked.length, lost, duplicates, phantoms, divergences, unacknowledgedPresent: present.size, refusedPresent: refused.size, committedEnd, violations: found.list };
}
