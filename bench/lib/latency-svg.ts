// A self-contained SVG of latency distributions: x is the percentile on a "nines" scale
// (50, 90, 99, 99.9, 99.99), y is the latency in ms on a log scale, one line per series.

export interface LatencySeries {
  readonly label: string;
  readonly curve: ReadonlyArray<readonly [number, number]>;
}

const WIDTH = 900;
const HEIGHT = 520;
const MARGIN = { left: 70, right: 230, top: 40, bottom: 50 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const nines = (p: number): number => -Math.log10(1 - p);

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}

export function latencySvg(title: string, series: readonly LatencySeries[]): string {
  const points = series.flatMap((s) => s.curve.filter(([, ms]) => Number.isFinite(ms) && ms > 0));
  const xMin = nines(0.01);
  const xMax = nines(0.9999);
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...points.map(([, ms]) => ms), 1))));
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...points.map(([, ms]) => ms), 1))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (p: number): number => MARGIN.left + ((nines(p) - xMin) / (xMax - xMin)) * plotW;
  const y = (ms: number): number => MARGIN.top + plotH - ((Math.log10(ms) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  parts.push(`<text x="${WIDTH / 2 - MARGIN.right / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  for (const p of [0.5, 0.9, 0.99, 0.999, 0.9999]) {
    parts.push(`<line x1="${x(p)}" y1="${MARGIN.top}" x2="${x(p)}" y2="${MARGIN.top + plotH}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(p)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">p${(p * 100).toString()}</text>`);
  }
  for (let decade = yMin; decade <= yMax * 1.0001; decade *= 10) {
    parts.push(`<line x1="${MARGIN.left}" y1="${y(decade)}" x2="${MARGIN.left + plotW}" y2="${y(decade)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y(decade) + 4}" text-anchor="end">${decade >= 1 ? decade.toFixed(0) : decade.toString()} ms</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">percentile</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const path = s.curve
      .filter(([p, ms]) => p >= 0.01 && Number.isFinite(ms) && ms > 0)
      .map(([p, ms], k) => `${k === 0 ? 'M' : 'L'}${x(p).toFixed(1)},${y(ms).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = MARGIN.top + 10 + i * 20;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 15}" y1="${ly}" x2="${WIDTH - MARGIN.right + 40}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 46}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
