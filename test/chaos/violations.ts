// Goal: one way for every chaos checker to collect violations: a string per violation, prefixed by
// its kind ("lost: ...", "duplicate: ..."), exact counts per kind, and a bounded report (at most
// maxMessagesPerKind strings a kind, then one "... more not shown") so a run with thousands of
// violations of one kind still yields a readable report and the other kinds stay visible.
export const MAX_MESSAGES_PER_KIND = 20;

export class Violations {
  /** The report: "kind: message" strings in the order found, bounded per kind. */
  readonly list: string[] = [];
  // Invariant: perKind.get(kind) counts every violate(kind, ...) call, shown or not.
  private readonly perKind = new Map<string, number>();

  constructor(private readonly maxMessagesPerKind = MAX_MESSAGES_PER_KIND) {}

  violate(kind: string, message: string): void {
    const n = this.count(kind) + 1;
    this.perKind.set(kind, n);
    if (n <= this.maxMessagesPerKind) this.list.push(`${kind}: ${message}`);
    else if (n === this.maxMessagesPerKind + 1) this.list.push(`${kind}: ... more not shown`);
  }

  count(kind: string): number {
    return this.perKind.get(kind) ?? 0;
  }
}
