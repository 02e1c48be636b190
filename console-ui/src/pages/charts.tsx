// Charts over the last minutes, from the console's server-side poll (pushed with every snapshot):
// per broker group the send TPS, the commit latency (p50/p99 from the leader's /metrics where it
// serves one), the entries each member writes per second (every member's /metrics), and each
// follower's lag; a vertical line marks every leader change, so a failover
// shows in the charts as it happens. Each chart has a text summary for screen readers.
import { useState } from 'preact/hooks';
import type { ClusterSnapshot, Sample } from '../types.js';

const WIDTH = 640;
const HEIGHT = 160;
const PAD = 36;
const COLORS = ['#1f6feb', '#d9480f', '#2f9e44', '#9c36b5', '#e8590c', '#0c8599'];

interface Series { name: string; points: Array<[number, number | null]> }

function LineChart({ id, title, unit, series, changes, fromMs, toMs }: { id: string; title: string; unit: string; series: Series[]; changes: Array<{ atMs: number; label: string }>; fromMs: number; toMs: number }) {
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v): v is number => v !== null);
  const max = Math.max(1, ...values);
  const x = (t: number): number => PAD + ((t - fromMs) / Math.max(1, toMs - fromMs)) * (WIDTH - PAD - 8);
  const y = (v: number): number => HEIGHT - 20 - (v / max) * (HEIGHT - 30);
  const latest = series.map((s) => `${s.name} ${[...s.points].reverse().find(([, v]) => v !== null)?.[1]?.toFixed(unit === 'ms' ? 2 : 0) ?? 'no data'}`).join(', ');
  const summary = `${title}: latest ${latest || 'no data'} ${unit}; maximum ${max.toFixed(unit === 'ms' ? 2 : 0)} ${unit}; ${changes.length} leader change${changes.length === 1 ? '' : 's'} in the window.`;
  return (
    <figure class="chart" data-chart={id}>
      <figcaption>{title} ({unit})</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line x1={PAD} y1={HEIGHT - 20} x2={WIDTH - 8} y2={HEIGHT - 20} class="axis" />
        <text x={2} y={14} class="tick">{max.toFixed(unit === 'ms' ? 1 : 0)}</text>
        <text x={2} y={HEIGHT - 22} class="tick">0</text>
        {changes.map((c) => <g key={c.atMs}><line x1={x(c.atMs)} x2={x(c.atMs)} y1={6} y2={HEIGHT - 20} class="change" /><text x={x(c.atMs) + 3} y={16} class="tick">{c.label}</text></g>)}
        {series.map((s, i) => {
          let d = '';
          let pen = false;
          for (const [t, v] of s.points) {
            if (v === null) { pen = false; continue; }
            d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
            pen = true;
          }
          const drawn = s.points.filter(([, v]) => v !== null);
          // data-points / data-last-ms: what the series holds, for tests and scripts reading the page.
          return <path key={s.name} d={d} fill="none" stroke={COLORS[i % COLORS.length]} stroke-width={2} data-series={s.name} data-points={drawn.length} data-last-ms={drawn[drawn.length - 1]?.[0] ?? ''} data-max={drawn.length === 0 ? '' : Math.max(...drawn.map(([, v]) => v as number))} />;
        })}
      </svg>
      <p class="legend">{series.map((s, i) => <span key={s.name}><i style={`background:${COLORS[i % COLORS.length]}`} aria-hidden="true" /> {s.name}</span>)}</p>
      <p class="sr-only">{summary}</p>
    </figure>
  );
}

export function ChartsPage({ samples, snapshot }: { samples: Sample[]; snapshot: ClusterSnapshot | null }) {
  const [minutes, setMinutes] = useState(5);
  const toMs = samples[samples.length - 1]?.atMs ?? Date.now();
  const fromMs = toMs - minutes * 60_000;
  const inWindow = samples.filter((s) => s.atMs >= fromMs);
  const groups = (snapshot?.clusters ?? []).flatMap((c) => c.groups.map((g) => g.brokerName));
  return (
    <>
      <p>
        <label for="chart-window">Window </label>
        <select id="chart-window" value={String(minutes)} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
          <option value="1">1 minute</option><option value="5">5 minutes</option><option value="10">10 minutes</option>
        </select>
        {' '}<span class="muted">{inWindow.length} samples</span>
      </p>
      {groups.length === 0 ? <p>No broker group yet.</p> : null}
      {groups.map((name) => {
        const changes: Array<{ atMs: number; label: string }> = [];
        let last: string | null | undefined;
        for (const s of inWindow) {
          const g = s.groups[name];
          if (g === undefined) continue;
          if (last !== undefined && g.leader !== last) changes.push({ atMs: s.atMs, label: g.leader === null ? 'no leader' : `→ ${g.leader}` });
          last = g.leader;
        }
        const peers = [...new Set(inWindow.flatMap((s) => Object.keys(s.groups[name]?.lag ?? {})))].sort();
        const writers = [...new Set(inWindow.flatMap((s) => Object.keys(s.groups[name]?.appendTps ?? {})))].sort();
        const point = (f: (s: Sample) => number | null): Array<[number, number | null]> => inWindow.map((s) => [s.atMs, s.groups[name] === undefined ? null : f(s)]);
        return (
          <section key={name} aria-labelledby={`charts-${name}`} data-chart-group={name}>
            <h2 id={`charts-${name}`}>{name}</h2>
            <div class="charts">
              <LineChart id="send-tps" title="Send TPS" unit="msg/s" series={[{ name: 'stored', points: point((s) => s.groups[name]?.putTps ?? null) }]} changes={changes} fromMs={fromMs} toMs={toMs} />
              <LineChart id="commit-latency" title="Commit latency" unit="ms" series={[{ name: 'p50', points: point((s) => s.groups[name]?.commitP50Ms ?? null) }, { name: 'p99', points: point((s) => s.groups[name]?.commitP99Ms ?? null) }]} changes={changes} fromMs={fromMs} toMs={toMs} />
              <LineChart id="append-tps" title="Entries written per member" unit="entries/s" series={writers.map((m) => ({ name: m, points: point((s) => s.groups[name]?.appendTps?.[m] ?? null) }))} changes={changes} fromMs={fromMs} toMs={toMs} />
              <LineChart id="follower-lag" title="Follower lag" unit="entries" series={peers.map((p) => ({ name: p, points: point((s) => s.groups[name]?.lag[p] ?? null) }))} changes={changes} fromMs={fromMs} toMs={toMs} />
            </div>
          </section>
        );
      })}
    </>
  );
}
