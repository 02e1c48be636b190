// Goal (issue 15, the actions unblocked by issue 14's admin codes): in a real browser against a
// fast-try cluster, with --allow-writes: a running ali-ons consumer's connection is shown on the
// group's page with the clientId mqadmin consumerConnection lists; after the consumer stopped, a
// reset of the group's offsets to a time in the page makes mqadmin consumerProgress show the
// offsets of that time; a topic deleted in the page is no longer listed by mqadmin topicList; a
// leadership transfer in the page moves BID 0 to the member chosen (mqadmin dledgerStatus agrees).
// A read-only console (no --allow-writes) offers none of the write actions and its API refuses them.
// Method: fast-try.sh with FAST_TRY_CONSOLE=1, Debian's chromium via puppeteer-core, ali-ons,
// bin/mqadmin as a child process; a second console started read-only by the harness.
import path from 'node:path';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { closeAll, message, ons, SHORT_INTERVALS_MS, type AliClient, type AliSendResult } from '../quickstart/ali-ons-client.js';
import { MQADMIN, runSh } from '../quickstart/helpers.js';
import { horizontalOverflow, launchBrowser, memberRows, requireChromium, screenshotDir, startConsole, startFastTry } from './harness.js';

// Browser globals for the functions run in the page (page.evaluate): this program has no DOM lib.
interface PageElement { getAttribute(name: string): string | null; textContent: string | null; value?: string; dispatchEvent(event: unknown): boolean; querySelectorAll(selector: string): ArrayLike<PageElement> }
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; querySelector(selector: string): PageElement | null };
declare const Event: new (type: string, init: { bubbles: boolean }) => unknown;

const chromium = requireChromium(t);
const TOPIC = 'ConsoleAdminTopic';
const DOOMED = 'ConsoleDoomedTopic';
const GROUP = 'CG_console_admin';

async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const two = (n: number): string => String(n).padStart(2, '0');
/** A datetime-local value (browser local time = this machine's) for ms, to the second. */
function localInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

if (chromium !== null) {
  t.test('console write actions: connections, reset offset, delete topic, leadership transfer', async (t) => {
    const cluster = await startFastTry(t, { FAST_TRY_CONSOLE: '1', FAST_TRY_CONSOLE_PORT: '0', FAST_TRY_CONSOLE_ARGS: '--allow-writes' });
    const url = /console: (http:\/\/\S+\/)/.exec(cluster.startOutput)?.[1] as string;
    const mqadmin = (...args: string[]): ReturnType<typeof runSh> => runSh(MQADMIN, [...args, '-n', cluster.namesrvAddr], cluster.env, 30_000);
    for (const topic of [TOPIC, DOOMED]) {
      const created = await mqadmin('updateTopic', '-t', topic, '-c', 'RaftCluster', '-r', '4', '-w', '4');
      t.equal(created.code, 0, created.stderr);
    }
    const shots = screenshotDir();
    t.comment(`screenshots in ${shots}`);
    const browser = await launchBrowser(t, chromium);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });

    // ---- 8 messages, a reset time on a whole second, 8 more; a running ali-ons consumer takes all 16.
    const clients: AliClient[] = [];
    t.teardown(() => closeAll(clients));
    const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_console_admin', ...SHORT_INTERVALS_MS });
    clients.push(producer);
    await producer.ready();
    const early: AliSendResult[] = [];
    for (let i = 0; i < 8; i++) early.push(await producer.send(message(TOPIC, 'TagA', `ca-${i}`, `early ${i}`)));
    const resetAtMs = Math.ceil((Date.now() + 50) / 1000) * 1000;
    await sleep(resetAtMs - Date.now() + 100);
    for (let i = 0; i < 8; i++) await producer.send(message(TOPIC, 'TagA', `cb-${i}`, `late ${i}`));
    let received = 0;
    const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
    consumer.on('error', () => undefined);
    clients.push(consumer);
    consumer.subscribe(TOPIC, '*', async () => void received++);
    const deadline = Date.now() + 30_000;
    while (received < 16 && Date.now() < deadline) await sleep(100);
    t.equal(received, 16, 'the consumer received the 16');

    // ---- connections of the running consumer: the page and mqadmin consumerConnection agree.
    const listed = await mqadmin('consumerConnection', '-g', GROUP);
    t.equal(listed.code, 0, listed.stderr);
    const clientId = /^001 {2}(\S+)/m.exec(listed.stdout)?.[1] ?? '';
    t.ok(clientId !== '', `mqadmin consumerConnection lists the consumer:\n${listed.stdout}`);
    await page.goto(`${url}#/groups`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#group-name', { timeout: 15_000 });
    await typeInto(page, '#group-name', GROUP);
    await page.keyboard.press('Enter');
    await page.waitForSelector('table[data-testid="group-connections"] tbody tr', { timeout: 15_000 });
    const shownIds = await page.$$eval('table[data-testid="group-connections"] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-client-id')));
    t.same(shownIds, [clientId], 'the page shows the running consumer\'s connection, the clientId mqadmin lists');
    t.match(await page.$eval('table[data-testid="group-connections"] tbody tr', (r) => r.textContent ?? ''), /JAVA/, 'with its language');
    await page.screenshot({ path: path.join(shots, 'group-connections-1280.png'), fullPage: true });

    // ---- reset offsets by time in the page (consumer stopped first: ali-ons ignores the broker's notice).
    await sleep(600);
    await consumer.close();
    await sleep(500);
    await page.click('button[type="submit"]'); // "Show progress" again: the consumer is gone
    await page.waitForFunction(() => document.querySelector('table[data-testid="group-connections"]') === null, { timeout: 15_000 });
    await page.waitForSelector('#reset-time', { timeout: 15_000 });
    await page.select('#reset-topic', TOPIC);
    await page.$eval('#reset-time', (el, value) => {
      const input = el as unknown as { value: string; dispatchEvent(e: unknown): boolean };
      input.value = value as string;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }, localInput(resetAtMs));
    await page.click('form[aria-labelledby="reset-title"] button[type="submit"]');
    await page.waitForSelector('table[data-testid="reset-result"] tbody tr', { timeout: 20_000 });
    const earlyPerQueue = [0, 1, 2, 3].map((q) => early.filter((r) => Number(r.messageQueue.queueId) === q).length);
    const shownReset = await page.$$eval('table[data-testid="reset-result"] tbody tr', (rows) => rows.map((r) => Number(r.querySelectorAll('td')[2]?.textContent ?? NaN)));
    t.same(shownReset, earlyPerQueue, `the page shows the new offsets ${JSON.stringify(earlyPerQueue)}`);
    const progress = await mqadmin('consumerProgress', '-g', GROUP, '-t', TOPIC);
    t.equal(progress.code, 0, progress.stderr);
    const consumerOffsets = progress.stdout.split('\n').filter((l) => l.startsWith(TOPIC)).map((l) => l.trim().split(/\s+/)).map((cols) => Number(cols[4]));
    t.same(consumerOffsets, earlyPerQueue, 'mqadmin consumerProgress: the committed offsets of the reset time');
    t.match(progress.stdout, /Diff Total: 8/, 'the 8 messages stored after the time are to be consumed again');
    await page.screenshot({ path: path.join(shots, 'group-reset-1280.png'), fullPage: true });

    // ---- delete a topic in the page: mqadmin topicList no longer lists it.
    await page.goto(`${url}#/topics`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector(`button[data-topic="${DOOMED}"]`, { timeout: 15_000 });
    await page.click(`button[data-topic="${DOOMED}"]`);
    await page.waitForSelector('button[data-testid="topic-delete"]', { timeout: 15_000 });
    await page.click('button[data-testid="topic-delete"]');
    await page.click('button[data-testid="topic-delete-confirm"]');
    await page.waitForFunction((topic: string) => [...document.querySelectorAll('[role="status"]')].some((e) => (e.textContent ?? '').includes(`Topic ${topic} deleted`)), { timeout: 20_000 }, DOOMED);
    const list = await mqadmin('topicList');
    t.equal(list.code, 0, list.stderr);
    t.notMatch(list.stdout, new RegExp(`^${DOOMED}$`, 'm'), 'mqadmin topicList no longer lists the topic deleted in the page');
    t.match(list.stdout, new RegExp(`^${TOPIC}$`, 'm'), 'the other topic is still there');
    const route = await mqadmin('topicRoute', '-t', DOOMED);
    t.equal(route.code, 1);
    t.match(route.stderr, /does not exist/);
    await page.waitForFunction((topic: string) => document.querySelector(`button[data-topic="${topic}"]`) === null, { timeout: 10_000 }, DOOMED);

    // ---- leadership transfer in the page: BID 0 moves to the member chosen.
    await page.goto(`${url}#/cluster`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('button[data-testid="transfer-submit"]', { timeout: 30_000 });
    const before = await memberRows(page, 'RaftNode00');
    const oldLeader = before.find((r) => r.bid === '0')?.member ?? '';
    const target = await page.$eval('select[data-testid="transfer-target"]', (el) => (el as unknown as { value: string }).value);
    t.not(target, oldLeader, `transfer from ${oldLeader} to ${target}`);
    await page.click('button[data-testid="transfer-submit"]');
    await page.waitForFunction((to: string) => document.querySelector('section[data-group="RaftNode00"] tr[data-bid="0"]')?.getAttribute('data-member') === to, { timeout: 15_000, polling: 100 }, target);
    const status = await mqadmin('dledgerStatus');
    t.match(status.stdout, new RegExp(`^RaftCluster +RaftNode00 +0 +\\S+ +${target} +leader `, 'm'), `mqadmin dledgerStatus: ${target} leads at BID 0`);
    await page.screenshot({ path: path.join(shots, 'cluster-transfer-1280.png'), fullPage: true });
    await page.setViewport({ width: 390, height: 844 });
    await sleep(200);
    t.equal(await horizontalOverflow(page), 0, 'the cluster page with the transfer form: no horizontal overflow at 390 px');
    await page.goto(`${url}#/groups`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#group-name', { timeout: 15_000 });
    await typeInto(page, '#group-name', GROUP);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#reset-time', { timeout: 15_000 });
    t.equal(await horizontalOverflow(page), 0, 'the group page with the reset form: no horizontal overflow at 390 px');
    await page.setViewport({ width: 1280, height: 900 });

    // ---- a read-only console: no write action offered, and its API refuses them.
    const readOnly = await startConsole(t, cluster.namesrvAddr);
    const roPage = await browser.newPage();
    await roPage.goto(`${readOnly.url}#/topics`, { waitUntil: 'domcontentloaded' });
    await roPage.waitForSelector(`button[data-topic="${TOPIC}"]`, { timeout: 15_000 });
    await roPage.click(`button[data-topic="${TOPIC}"]`);
    await roPage.waitForFunction(() => /Read-only console: start mqconsole with --allow-writes to delete topics/.test(document.querySelector('main')?.textContent ?? ''), { timeout: 15_000 });
    t.equal(await roPage.$('button[data-testid="topic-delete"]'), null, 'read-only: no delete button');
    const refused = await roPage.evaluate(async () => {
      const session = await (await fetch('/api/session')).json() as { token: string };
      const r = await fetch('/api/topics/delete', { method: 'POST', headers: { 'content-type': 'application/json', 'x-console-token': session.token }, body: JSON.stringify({ topic: 'ConsoleAdminTopic', cluster: 'RaftCluster' }) });
      return { status: r.status, body: await r.text() };
    });
    t.equal(refused.status, 403, `read-only API refuses the delete: ${refused.body}`);
    await roPage.goto(`${readOnly.url}#/cluster`, { waitUntil: 'domcontentloaded' });
    await roPage.waitForSelector('section[data-group="RaftNode00"] tr[data-bid="0"]', { timeout: 15_000 });
    t.equal(await roPage.$('button[data-testid="transfer-submit"]'), null, 'read-only: no transfer button');
    const stillListed = await mqadmin('topicList');
    t.match(stillListed.stdout, new RegExp(`^${TOPIC}$`, 'm'), 'the refused delete changed nothing');
  });
}

