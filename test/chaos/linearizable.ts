// Goal: decide whether a history of register writes and reads is linearizable, and when it is not,
// name the operation that cannot be placed, what the register could hold then, and why.
// Model: one register, initially null; write(v) = an append of the unique value v; read() returns
// the value of the latest append (read-latest). Values are unique per write.
// Method: the configuration-set search of Lowe ("Testing for linearizability", 2017), as in
// Knossos' `linear` checker: a Wing & Gong search for a linearization consistent with real-time
// order, run breadth-first over the history's events in time order and memoized on
// (linearized set, state). A configuration is (register state, the set of called but not yet
// returned ops already linearized). A call adds a pending op; at the return of op o, every
// configuration that has not linearized o must do it now, possibly after linearizing other pending
// ops first; configurations that cannot are dropped. Only pending ops are kept in the set, so the
// memo is bounded by the concurrency of the history, not its length: a quiescent point (nothing
// pending) collapses the search to the set of possible register values, which is the split at
// quiescent points done implicitly. If no configuration survives a return, that op is a violation;
// it is reported and then ignored (as if never performed) so one run reports every bad op.
// Incomplete information:
//   - a failed write (definitely refused) never took effect; a failed or unknown read constrains
//     nothing; both are left out;
//   - an unknown write may or may not have taken effect. Not observed by any read: left out (it can
//     always be placed after everything). Observed: it must be linearized before the first read
//     that returned its value finished, so that read's completion is its return time. This keeps
//     the window of pending ops short instead of open until the end of the run.
// Bounds: configurations per step are capped (maxConfigurations); past it the check is
// "inconclusive" (reported, never silently passed).
export type OpStatus = 'ok' | 'fail' | 'unknown';

export interface RegisterOp {
  readonly kind: 'write' | 'read';
  /** Who issued it (client name), for the report. */
  readonly process: string;
  /** write: the value written; read (ok): the value read, null for the initial empty register. */
  readonly value: string | null;
  readonly invokeMs: number;
  /** null when the op never completed (treated as unknown). */
  readonly completeMs: number | null;
  readonly status: OpStatus;
  /** Extra facts for the report (e.g. the read index, the member asked). */
  readonly note?: string;
}

export type ViolationKind = 'never-written' | 'refused-write-observed' | 'read-from-future' | 'stale-read' | 'read-went-back' | 'no-linearization';

export interface LinearizabilityViolation {
  readonly kind: ViolationKind;
  readonly op: string;
  /** What the register could hold just before the op had to take effect (up to 10). */
  readonly possibleValues: readonly (string | null)[];
  /** Other ops pending at that moment (up to 10). */
  readonly concurrent: readonly string[];
  readonly explanation: string;
}

export interface LinearizabilityResult {
  readonly writes: number;
  readonly reads: number;
  /** Ops the search used (ok reads, ok writes, observed unknown writes). */
  readonly checkedOps: number;
  readonly unknownWritesObserved: number;
  readonly unknownWritesIgnored: number;
  readonly violationCount: number;
  /** The first `maxReported` violations. */
  readonly violations: LinearizabilityViolation[];
  /** Why the check stopped early (configuration cap), or null when it covered the whole history. */
  readonly inconclusive: string | null;
  readonly maxConfigurations: number;
  readonly maxPending: number;
}

export interface CheckOptions {
  readonly initialValue?: string | null;
  /** Cap on live configurations (and on closure size per return). */
  readonly maxConfigurations?: number;
  readonly maxReported?: number;
}

interface Prepared {
  readonly id: number;
  readonly op: RegisterOp;
  readonly returnMs: number;
}

type Config = { readonly state: string | null; readonly mask: bigint };

const keyOf = (state: string | null, mask: bigint): string => `${mask.toString(36)}|${state === null ? '' : `=${state}`}`;

export function describeOp(op: RegisterOp): string {
  const when = `[${op.invokeMs.toFixed(1)}, ${op.completeMs === null ? '?' : op.completeMs.toFixed(1)}] ms`;
  const what = op.kind === 'write' ? `write ${JSON.stringify(op.value)}` : `read -> ${JSON.stringify(op.value)}`;
  return `${op.process} ${what} ${op.status} ${when}${op.note !== undefined ? ` (${op.note})` : ''}`;
}

/** Which ops the search uses and when each must have taken effect by (see the header). */
function prepare(ops: readonly RegisterOp[]): { prepared: Prepared[]; observedUnknown: number; ignoredUnknown: number } {
  const firstReadCompletion = new Map<string, number>();
  for (const op of ops) {
    if (op.kind !== 'read' || op.status !== 'ok' || op.value === null || op.completeMs === null) continue;
    const seen = firstReadCompletion.get(op.value);
    if (seen === undefined || op.completeMs < seen) firstReadCompletion.set(op.value, op.completeMs);
  }
  const prepared: Prepared[] = [];
  let observedUnknown = 0;
  let ignoredUnknown = 0;
  ops.forEach((op, id) => {
    if (op.kind === 'read') {
      if (op.status === 'ok' && op.completeMs !== null) prepared.push({ id, op, returnMs: op.completeMs });
      return;
    }
    if (op.status === 'fail') return;
    if (op.status === 'ok' && op.completeMs !== null) {
      prepared.push({ id, op, returnMs: op.completeMs });
      return;
    }
    const observedBy = op.value === null ? undefined : firstReadCompletion.get(op.value);
    if (observedBy === undefined) {
      ignoredUnknown++;
      return;
    }
    observedUnknown++;
    prepared.push({ id, op, returnMs: Math.max(op.invokeMs, observedBy) });
  });
  return { prepared, observedUnknown, ignoredUnknown };
}

/** Why `read` could not be placed, from the simple patterns; 'no-linearization' otherwise. */
function explain(read: RegisterOp, ops: readonly RegisterOp[]): { kind: ViolationKind; explanation: string } {
  if (read.kind === 'write') return { kind: 'no-linearization', explanation: 'no order of the pending operations admits this write' };
  const start = read.invokeMs;
  const end = read.completeMs ?? Infinity;
  const writes = ops.filter((o) => o.kind === 'write');
  const okWrites = writes.filter((o) => o.status === 'ok' && o.completeMs !== null);
  const own = read.value === null ? null : writes.find((w) => w.value === read.value);
  if (read.value !== null && own === undefined) return { kind: 'never-written', explanation: `no client ever wrote ${JSON.stringify(read.value)}` };
  if (own !== null && own !== undefined) {
    if (own.status === 'fail') return { kind: 'refused-write-observed', explanation: `the write of ${JSON.stringify(read.value)} was refused, yet it was read: ${describeOp(own)}` };
    if (own.invokeMs > end) return { kind: 'read-from-future', explanation: `the value was written only after the read returned: ${describeOp(own)}` };
  }
  const ownEnd = own === null ? -Infinity : (own!.completeMs ?? Infinity);
  const overwriter = okWrites.find((w) => w !== own && w.invokeMs > ownEnd && w.completeMs! < start);
  if (overwriter !== undefined) {
    return { kind: 'stale-read', explanation: `${own === null ? 'the initial empty value' : JSON.stringify(read.value)} was overwritten before the read began by ${describeOp(overwriter)}` };
  }
  const valueEnd = (v: string | null): number => (v === null ? -Infinity : (writes.find((w) => w.value === v)?.completeMs ?? Infinity));
  const newerRead = ops.find((o) => o.kind === 'read' && o.status === 'ok' && o.completeMs !== null && o.completeMs < start && o.value !== read.value && valueEnd(read.value) < (writes.find((w) => w.value === o.value)?.invokeMs ?? -Infinity));
  if (newerRead !== undefined) return { kind: 'read-went-back', explanation: `an earlier read already saw the newer value: ${describeOp(newerRead)}` };
  return { kind: 'no-linearization', explanation: 'no order of the concurrent operations admits this read' };
}

export function checkRegisterHistory(ops: readonly RegisterOp[], options: CheckOptions = {}): LinearizabilityResult {
  const maxConfigurations = options.maxConfigurations ?? 100_000;
  const maxReported = options.maxReported ?? 20;
  const { prepared, observedUnknown, ignoredUnknown } = prepare(ops);
  // Events in time order; at equal times calls first, so ops that merely touch are concurrent
  // (never a false alarm from timer resolution).
  const events: { atMs: number; call: boolean; p: Prepared }[] = [];
  for (const p of prepared) events.push({ atMs: p.op.invokeMs, call: true, p }, { atMs: p.returnMs, call: false, p });
  events.sort((a, b) => a.atMs - b.atMs || (a.call === b.call ? a.p.id - b.p.id : a.call ? -1 : 1));

  const byId = new Map(prepared.map((q) => [q.id, q]));
  const initial = options.initialValue ?? null;
  let configs = new Map<string, Config>([[keyOf(initial, 0n), { state: initial, mask: 0n }]]);
  // Invariant: slotOf holds exactly the pending (called, not returned) ops; every config's mask
  // only has bits of pending slots.
  const slotOf = new Map<number, number>();
  const freeSlots: number[] = [];
  let nextSlot = 0;
  const violations: LinearizabilityViolation[] = [];
  let violationCount = 0;
  let inconclusive: string | null = null;
  let maxConfigs = 1;
  let maxPending = 0;

  const legal = (state: string | null, op: RegisterOp): string | null | undefined => (op.kind === 'write' ? op.value : state === op.value ? state : undefined);

  for (const event of events) {
    const { p } = event;
    if (event.call) {
      const slot = freeSlots.pop() ?? nextSlot++;
      slotOf.set(p.id, slot);
      maxPending = Math.max(maxPending, slotOf.size);
      continue;
    }
    const slot = slotOf.get(p.id)!;
    const bit = 1n << BigInt(slot);
    const pending = [...slotOf].filter(([id]) => id !== p.id).map(([id, s]) => ({ op: byId.get(id)!.op, bit: 1n << BigInt(s) }));
    const next = new Map<string, Config>();
    const seen = new Set<string>();
    let explored = 0;
    for (const config of configs.values()) {
      if ((config.mask & bit) !== 0n) {
        const mask = config.mask & ~bit;
        next.set(keyOf(config.state, mask), { state: config.state, mask });
        continue;
      }
      // Closure: linearize other pending ops first (any order), then this one.
      const stack: Config[] = [config];
      seen.add(keyOf(config.state, config.mask));
      while (stack.length > 0) {
        const x = stack.pop()!;
        if (++explored > maxConfigurations) break;
        const after = legal(x.state, p.op);
        if (after !== undefined) next.set(keyOf(after, x.mask), { state: after, mask: x.mask });
        for (const other of pending) {
          if ((x.mask & other.bit) !== 0n) continue;
          const state = legal(x.state, other.op);
          if (state === undefined) continue;
          const mask = x.mask | other.bit;
          const key = keyOf(state, mask);
          if (seen.has(key)) continue;
          seen.add(key);
          stack.push({ state, mask });
        }
      }
    }
    slotOf.delete(p.id);
    freeSlots.push(slot);
    if (explored > maxConfigurations || next.size > maxConfigurations) {
      inconclusive = `more than ${maxConfigurations} configurations at ${event.atMs.toFixed(1)} ms (${pending.length + 1} ops pending); stopped there`;
      break;
    }
    if (next.size === 0) {
      violationCount++;
      if (violations.length < maxReported) {
        const possibleValues = [...new Set([...configs.values()].map((c) => c.state))].slice(0, 10);
        const { kind, explanation } = explain(p.op, ops);
        violations.push({ kind, op: describeOp(p.op), possibleValues, concurrent: pending.slice(0, 10).map((o) => describeOp(o.op)), explanation });
      }
      // Recover: as if this op never happened (no configuration had linearized it). Clear its bit
      // anyway so the slot can be reused.
      const kept = new Map<string, Config>();
      for (const c of configs.values()) kept.set(keyOf(c.state, c.mask & ~bit), { state: c.state, mask: c.mask & ~bit });
      configs = kept;
      continue;
    }
    configs = next;
    maxConfigs = Math.max(maxConfigs, configs.size);
  }
  return {
    writes: ops.filter((o) => o.kind === 'write').length,
    reads: ops.filter((o) => o.kind === 'read').length,
    checkedOps: prepared.length,
    unknownWritesObserved: observedUnknown,
    unknownWritesIgnored: ignoredUnknown,
    violationCount,
    violations,
    inconclusive,
    maxConfigurations: maxConfigs,
    maxPending,
  };
}

/** One line per violation, for summaries and test logs. */
export function formatViolation(v: LinearizabilityViolation): string {
  return `linearizability/${v.kind}: ${v.op}: ${v.explanation}; the register could hold ${v.possibleValues.map((s) => JSON.stringify(s)).join(' or ')}${v.concurrent.length > 0 ? `; concurrent: ${v.concurrent.join('; ')}` : ''}`;
}
