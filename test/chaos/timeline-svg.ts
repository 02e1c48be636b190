// Goal: one picture per campaign run — what was broken when, who led, and whether clients got
// through — to read next to the JSON report.
// Method: a plain SVG string (no dependencies), one shared time axis (ms since the campaign's
// origin): a lane per fault family with one bar per fault window (atMs .. atMs + holdMs, labelled
// with its description when it fits, else the members it hit, the full description as a hover <title>); a lane per member with its
// leadership spans labelled by term (from LeaderPoller); a bar chart of acknowledged appends per
// time bucket; a header with the run's numbers. Every text is XML-escaped.
import type { LeaderSpan, Throughput } from './timeline.js';

export interface TimelineFault {
  readonly atMs: number;
  readonly family: string;
  readonly description: string;
  readonly holdMs: number;
}

export interface TimelineInput {
  readonly title: string;
  /** Lines under the title (operations, acknowledged, violations, ...). */
  readonly subtitle: readonly string[];
  readonly durationMs: number;
  readonly members: readonly string[];
  readonly faults: readonly TimelineFault[];
  readonly leaders: readonly LeaderSpan[];
  readonly throughput: Throughput;
}

const WIDTH_PX = 1200;
const LEFT_PX = 120;
const RIGHT_PX = 20;
const LANE_PX = 22;
const GAP_PX = 14;
const CHART_PX = 120;
const FAMILY_COLORS: Readonly<Record<string, string>> = { kill: '#d62728', pause: '#9467bd', partition: '#ff7f0e', power: '#8c564b', 'slow-disk': '#17becf', duplicate: '#bcbd22' };
const TERM_COLORS = ['#1f77b4', '#2ca02c', '#6baed6', '#74c476'];
const TICK_STEPS_MS = [500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Member ids a fault description names (n0, n1, ...); every member when it names none. */
export function membersHit(description: string, members: readonly string[]): string[] {
  const named = members.filter((id) => new RegExp(`\\b${id}\\b`).test(description));
  return named.length > 0 ? named : [...members];
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

export function renderTimelineSvg(input: TimelineInput): string {
  const spanMs = Math.max(1, input.durationMs, ...input.faults.map((f) => f.atMs + f.holdMs), ...input.leaders.map((l) => l.toMs));
  const plotPx = WIDTH_PX - LEFT_PX - RIGHT_PX;
  const x = (ms: number): number => LEFT_PX + (Math.max(0, ms) / spanMs) * plotPx;
  const out: string[] = [];
  let y = 24;
  const text = (tx: number, ty: number, body: string, attrs = ''): void => {
    out.push(`<text x="${fmt(tx)}" y="${fmt(ty)}"${attrs}>${escapeXml(body)}</text>`);
  };
  text(10, y, input.title, ' font-size="16" font-weight="bold"');
  for (const line of input.subtitle) {
    y += 18;
    text(10, y, line, ' font-size="12"');
  }
  y += GAP_PX + 6;

  // Fault lanes, one per family in the order first injected.
  const families = [...new Set(input.faults.map((f) => f.family))];
  text(10, y, 'faults', ' font-size="12" font-weight="bold"');
  y += 6;
  for (const family of families) {
    const color = FAMILY_COLORS[family] ?? '#7f7f7f';
    text(10, y + LANE_PX - 7, family, ' font-size="12"');
    for (const fault of input.faults.filter((f) => f.family === family)) {
      const x0 = x(fault.atMs);
      const w = Math.max(2, x(fault.atMs + fault.holdMs) - x0);
      // The description itself when it fits (it names the members and how), else its head, else who was hit.
      const room = Math.floor((w - 4) / 5.6);
      const head = fault.description.split(/ with | for |: /)[0]!;
      const label = [fault.description, head, membersHit(fault.description, input.members).join(',')].find((l) => l.length <= room) ?? '';
      out.push(`<g class="fault" data-family="${escapeXml(family)}"><title>${escapeXml(`${(fault.atMs / 1000).toFixed(1)} s: ${fault.description} (hold ${fault.holdMs} ms)`)}</title>`);
      out.push(`<rect x="${fmt(x0)}" y="${fmt(y)}" width="${fmt(w)}" height="${LANE_PX - 4}" fill="${color}" fill-opacity="0.75"/>`);
      if (label !== '') text(x0 + 2, y + LANE_PX - 9, label, ' font-size="10" fill="#ffffff"');
      out.push('</g>');
    }
    y += LANE_PX;
  }
  y += GAP_PX;

  // Leadership, one lane per member.
  text(10, y, 'leader (term)', ' font-size="12" font-weight="bold"');
  y += 6;
  for (const member of input.members) {
    text(10, y + LANE_PX - 7, member, ' font-size="12"');
    for (const span of input.leaders.filter((l) => l.leader === member)) {
      const x0 = x(span.fromMs);
      const w = Math.max(2, x(span.toMs) - x0);
      out.push(`<g class="leader"><title>${escapeXml(`${span.leader} led term ${span.term} from ${(span.fromMs / 1000).toFixed(1)} s to ${(span.toMs / 1000).toFixed(1)} s`)}</title>`);
      out.push(`<rect x="${fmt(x0)}" y="${fmt(y)}" width="${fmt(w)}" height="${LANE_PX - 4}" fill="${TERM_COLORS[span.term % TERM_COLORS.length]}"/>`);
      if (w > 18) text(x0 + 2, y + LANE_PX - 9, `t${span.term}`, ' font-size="10" fill="#ffffff"');
      out.push('</g>');
    }
    y += LANE_PX;
  }
  y += GAP_PX;

  // Acknowledged appends per bucket.
  const { bucketMs, acked } = input.throughput;
  const peak = Math.max(1, ...acked);
  text(10, y + 12, 'acked appends', ' font-size="12" font-weight="bold"');
  text(10, y + 28, `per ${fmt(bucketMs / 1000)} s`, ' font-size="11"');
  text(10, y + 44, `peak ${peak}`, ' font-size="11"');
  const base = y + CHART_PX;
  out.push(`<line x1="${LEFT_PX}" y1="${fmt(base)}" x2="${WIDTH_PX - RIGHT_PX}" y2="${fmt(base)}" stroke="#999999"/>`);
  acked.forEach((count, i) => {
    if (count === 0) return;
    const h = (count / peak) * (CHART_PX - 10);
    out.push(`<rect class="throughput" x="${fmt(x(i * bucketMs))}" y="${fmt(base - h)}" width="${fmt(Math.max(1, x((i + 1) * bucketMs) - x(i * bucketMs) - 1))}" height="${fmt(h)}" fill="#4c78a8"><title>${escapeXml(`${(i * bucketMs / 1000).toFixed(1)} s: ${count} acknowledged`)}</title></rect>`);
  });
  y = base + 6;

  // Time axis, with fault windows shaded across every lane.
  const step = TICK_STEPS_MS.find((s) => spanMs / s <= 15) ?? TICK_STEPS_MS[TICK_STEPS_MS.length - 1]!;
  out.push(`<line x1="${LEFT_PX}" y1="${fmt(y)}" x2="${WIDTH_PX - RIGHT_PX}" y2="${fmt(y)}" stroke="#333333"/>`);
  for (let t = 0; t <= spanMs; t += step) {
    out.push(`<line x1="${fmt(x(t))}" y1="${fmt(y)}" x2="${fmt(x(t))}" y2="${fmt(y + 5)}" stroke="#333333"/>`);
    text(x(t) - 8, y + 18, `${fmt(t / 1000)} s`, ' font-size="10"');
  }
  const height = y + 30;
  const shading = input.faults.map((f) => `<rect x="${fmt(x(f.atMs))}" y="0" width="${fmt(Math.max(1, x(f.atMs + f.holdMs) - x(f.atMs)))}" height="${fmt(height)}" fill="${FAMILY_COLORS[f.family] ?? '#7f7f7f'}" fill-opacity="0.06"/>`);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${fmt(height)}" viewBox="0 0 ${WIDTH_PX} ${fmt(height)}" font-family="sans-serif">`,
    `<rect x="0" y="0" width="${WIDTH_PX}" height="${fmt(height)}" fill="#ffffff"/>`,
    ...shading,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

/** The fields of a campaign report the timeline reads (structural, so campaign.ts is not imported). */
export interface TimelineReport {
  readonly seed: number;
  readonly durationMs: number;
  readonly faultFamilies: readonly string[];
  readonly faults: readonly TimelineFault[];
  readonly operations: number;
  readonly ok: number;
  readonly lastIndexes: Readonly<Record<string, number>>;
  readonly check: { readonly acknowledged: number; readonly lost: number };
  readonly violations: readonly string[];
  readonly leaders: readonly LeaderSpan[];
  readonly throughput: Throughput;
  readonly reads: { readonly reads: number; readonly ok: number } | null;
  readonly linearizability: { readonly violationCount: number } | null;
}

export function campaignTimelineSvg(report: TimelineReport): string {
  const reads = report.reads === null ? 'reads off' : `reads ${report.reads.reads} (ok ${report.reads.ok}), linearizability violations ${report.linearizability?.violationCount ?? '?'}`;
  return renderTimelineSvg({
    title: `chaos seed ${report.seed}: ${report.faultFamilies.join(', ')}, ${(report.durationMs / 1000).toFixed(1)} s`,
    subtitle: [
      `${report.faults.length} faults; appends ${report.operations} (ok ${report.ok}); acknowledged ${report.check.acknowledged}, lost ${report.check.lost}; ${reads}`,
      `violations: ${report.violations.length}`,
    ],
    durationMs: report.durationMs,
    members: Object.keys(report.lastIndexes).sort(),
    faults: report.faults,
    leaders: report.leaders,
    throughput: report.throughput,
  });
}
