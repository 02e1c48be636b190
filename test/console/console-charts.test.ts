// Goal (issue 15, charts): against a fast-try cluster (whose brokers serve /metrics with
// metricsExporterType=PROM, published in their runtime info), the charts page in a real browser
// shows data from all three members - the entries each member writes per second - and the
// leader's commit-latency percentiles; after a SIGKILL of the leader the same page (no reload)
// goes on updating: commit latency from the new leader, entries from the two survivors, nothing
// more from the killed member.
// Method: FAST_TRY_CONSOLE=1, Debian's chromium via puppeteer-core, an ali-ons producer sending in
// a bounded loop (at most 45 s / 3,000 messages) throughout; the chart's series are read from the
// data attributes of their SVG paths (points drawn, time of the last one, maximum).
import path from 'node:path';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { AdminClient } from '../../src/admin/admin-client.js';
import { closeAll, message, ons, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { MQADMIN, NODES, runSh } from '../quickstart/helpers.js';
import { launchBrowser, requireChromium, screenshotDir, startFastTry } from './harness.js';

// Browser globals for the functions run in the page (page.evaluate): this program has no DOM lib.
interface PageElement { getAttribute(name: string): string | null; querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement> }
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement> };

interface SeriesView { readonly points: number; readonly lastMs: number; readonly max: number }

const chromium = requireChromium(t);

/** The series of one chart of RaftNode00's section, by name. */
async function seriesOf(page: Page, chart: string): Promise<Record<string, SeriesView>> {
  return page.evaluate((id: string) => {
    const out: Record<string, { points: number; lastMs: number; max: number }> = {};
    for (const p of document.querySelectorAll(`section[data-chart-group="RaftNode00"] figure[data-chart="${id}"] path[data-series]`)) {
      out[p.getAttribute('data-series') ?? ''] = { points: Number(p.getAttribute('data-points') ?? 0), lastMs: Number(p.getAttribute('data-last-ms') || 0), max: Number(p.getAttribute('data-max') || 0) };
    }
    return out;
  }, chart);
}

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const value = await probe().catch((error: unknown) => ((last = error), null));
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last instanceof Error ? last.message : 'condition false'})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

if (chromium !== null) {
  t.test('charts page: every member\'s metrics, updating through a leader SIGKILL', async (t) => {
    const cluster = await startFastTry(t, { FAST_TRY_CONSOLE: '1', FAST_TRY_CONSOLE_PORT: '0' });
    const url = /console: (http:\/\/\S+\/)/.exec(cluster.startOutput)?.[1] as string;
    const update = await runSh(MQADMIN, ['updateTopic', '-t', 'ChartTopic', '-c', 'RaftCluster', '-r', '2', '-w', '2', '-n', cluster.namesrvAddr], cluster.env, 20_000);
    t.equal(update.code, 0, update.stderr);

    // A bounded producer loop for the whole test (failed sends during the failover are counted, not fatal).
    const clients: AliClient[] = [];
    const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_charts', ...SHORT_INTERVALS_MS });
    clients.push(producer);
    await producer.ready();
    let sending = true;
    let sent = 0;
    let failed = 0;
    const loop = (async () => {
      const until = Date.now() + 45_000;
      for (let i = 0; sending && i < 3000 && Date.now() < until; i++) {
        await producer.send(message('ChartTopic', 'TagA', `chart-${i}`, `chart body ${i}`)).then(() => sent++, () => failed++);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    t.teardown(async () => {
      sending = false;
      await loop;
      await closeAll(clients);
    });

    const browser = await launchBrowser(t, chromium);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(`${url}#/charts`, { waitUntil: 'domcontentloaded' });
    const before = await waitUntil('entries written by n0, n1 and n2, and commit latency', 30_000, async () => {
      const append = await seriesOf(page, 'append-tps');
      const latency = await seriesOf(page, 'commit-latency');
      const all = NODES.every((n) => (append[n]?.points ?? 0) >= 3 && (append[n]?.max ?? 0) > 0);
      return all && (latency['p50']?.points ?? 0) >= 3 ? { append, latency } : null;
    });
    t.same(Object.keys(before.append).sort(), ['n0', 'n1', 'n2'], 'the entries-written chart has a series per member');
    for (const node of NODES) t.ok((before.append[node]?.max ?? 0) > 0, `${node}: ${before.append[node]?.points} points, up to ${before.append[node]?.max} entries/s`);
    t.ok((before.latency['p99']?.points ?? 0) >= 3, `commit latency p50 ${before.latency['p50']?.points} points (max ${before.latency['p50']?.max} ms), p99 ${before.latency['p99']?.points}`);
    const shots = screenshotDir();
    t.comment(`screenshots in ${shots}`);
    await page.screenshot({ path: path.join(shots, 'charts-members-1280.png'), fullPage: true });

    // The leader (BID 0 at the name server) dies; the page is not reloaded.
    const admin = new AdminClient([cluster.namesrvAddr]);
    t.teardown(() => admin.close());
    const leaderAddr = (await admin.clusterInfo()).brokerAddrTable['RaftNode00']?.brokerAddrs['0'] as string;
    const leader = NODES[cluster.clientPorts.indexOf(Number(leaderAddr.slice(leaderAddr.lastIndexOf(':') + 1)))] as string;
    t.ok(leader !== undefined, `the leader is ${leader} (${leaderAddr})`);
    const killedAt = Date.now();
    process.kill(cluster.pidOf(leader), 'SIGKILL');
    const survivors = NODES.filter((n) => n !== leader);
    const after = await waitUntil('commit latency from the new leader and entries from the survivors after the kill', 30_000, async () => {
      const append = await seriesOf(page, 'append-tps');
      const latency = await seriesOf(page, 'commit-latency');
      const fresh = (s: SeriesView | undefined): boolean => (s?.lastMs ?? 0) > killedAt + 1000;
      return fresh(latency['p50']) && survivors.every((n) => fresh(append[n])) ? { append, latency } : null;
    });
    t.ok((after.latency['p50']?.points ?? 0) > (before.latency['p50']?.points ?? 0), `the commit-latency chart went on: p50 points ${before.latency['p50']?.points} -> ${after.latency['p50']?.points}, the last ${(after.latency['p50']?.lastMs ?? 0) - killedAt} ms after the SIGKILL`);
    for (const node of survivors) t.ok((after.append[node]?.lastMs ?? 0) > killedAt + 1000, `${node} (alive) has entries-written points after the kill`);
    t.ok((after.append[leader]?.lastMs ?? 0) <= killedAt + 1000, `${leader} (killed) has none after it`);
    t.comment(`sends: ${sent} acknowledged, ${failed} failed during the failover`);
    await page.screenshot({ path: path.join(shots, 'charts-failover-1280.png'), fullPage: true });
  });
}
