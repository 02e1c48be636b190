// Goal (issue 15): the console's topics, consumer-groups, messages and charts pages against a
// fast-try cluster in a real browser: a topic created in the page is listed by `mqadmin
// topicList`; a consumer group's lag shown equals `mqadmin consumerProgress`; a message sent by
// ali-ons is found by its key (and by its id); each page is screenshotted, has no horizontal
// overflow at 1280 px and 390 px, labels every form field, and is reached from the nav by keyboard.
// Method: FAST_TRY_CONSOLE=1 with --allow-writes (ACL off), Debian's chromium via puppeteer-core,
// the real ali-ons producer and consumer, bin/mqadmin as a child process for the comparisons.
import path from 'node:path';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { closeAll, message, ons, SHORT_INTERVALS_MS, type AliClient } from '../quickstart/ali-ons-client.js';
import { MQADMIN, runSh } from '../quickstart/helpers.js';
import { horizontalOverflow, launchBrowser, requireChromium, screenshotDir, startFastTry } from './harness.js';

// Browser globals for the functions run in the page (page.evaluate): this program has no DOM lib.
interface PageElement { getAttribute(name: string): string | null; textContent: string | null; id: string; tagName: string; labels?: ArrayLike<unknown> | null; type?: string }
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; querySelector(selector: string): PageElement | null; activeElement: PageElement | null };

const chromium = requireChromium(t);

async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await page.click(selector, { count: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

/** Every input/select of the page has a label a screen reader announces. */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')].filter((e) => (e.labels?.length ?? 0) === 0 && e.getAttribute('aria-label') === null).map((e) => `${e.tagName}#${e.id}`));
}

if (chromium !== null) {
  t.test('topics, groups, messages, charts pages', async (t) => {
    const cluster = await startFastTry(t, { FAST_TRY_CONSOLE: '1', FAST_TRY_CONSOLE_PORT: '0', FAST_TRY_CONSOLE_ARGS: '--allow-writes' });
    const url = /console: (http:\/\/\S+\/)/.exec(cluster.startOutput)?.[1] as string;
    const mqadmin = (...args: string[]): ReturnType<typeof runSh> => runSh(MQADMIN, [...args, '-n', cluster.namesrvAddr], cluster.env, 20_000);
    const shots = screenshotDir();
    t.comment(`screenshots in ${shots}`);
    const browser = await launchBrowser(t, chromium);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const check = async (name: string): Promise<void> => {
      t.same(await unlabelled(page), [], `${name}: every form field has a label`);
      t.equal(await horizontalOverflow(page), 0, `${name}: no horizontal overflow at 1280 px`);
      await page.screenshot({ path: path.join(shots, `${name}-1280.png`), fullPage: true });
      await page.setViewport({ width: 390, height: 844 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      t.equal(await horizontalOverflow(page), 0, `${name}: no horizontal overflow at 390 px`);
      await page.screenshot({ path: path.join(shots, `${name}-390.png`), fullPage: true });
      await page.setViewport({ width: 1280, height: 900 });
    };

    // Keyboard: skip link first, then the nav in page order; Enter on a link opens its page.
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('section[data-group="RaftNode00"] tr[data-bid="0"]', { timeout: 30_000 });
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.textContent ?? ''));
    }
    t.same(order, ['Skip to content', 'Cluster', 'Topics', 'Consumer groups', 'Messages', 'Charts'], 'focus order: skip link, then the pages');
    await page.keyboard.down('Shift');
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.up('Shift');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Topics');
    t.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'Enter on Topics opens it and moves focus to its heading');

    // Topics: create one in the page; mqadmin topicList lists it.
    await page.waitForSelector('#topic-name');
    await typeInto(page, '#topic-name', 'ConsoleTopic');
    await typeInto(page, '#topic-read', '4');
    await typeInto(page, '#topic-write', '4');
    await page.click('form[aria-labelledby="topic-form-title"] button[type="submit"]');
    await page.waitForFunction(() => /Topic ConsoleTopic written to/.test(document.querySelector('[role="status"]')?.textContent ?? ''), { timeout: 15_000 });
    const list = await mqadmin('topicList');
    t.equal(list.code, 0, list.stderr);
    t.match(list.stdout, /^ConsoleTopic$/m, 'mqadmin topicList lists the topic created in the page');
    await page.waitForSelector('table[data-testid="queue-stats"] tbody tr', { timeout: 10_000 });
    t.equal((await page.$$('table[data-testid="queue-stats"] tbody tr')).length, 4, 'the page shows its 4 queues');

    // ali-ons: 12 messages with keys; a consumer takes them, stops; 6 more make a lag.
    const clients: AliClient[] = [];
    t.teardown(() => closeAll(clients));
    const producer = new ons.Producer({ nameSrv: cluster.namesrvAddr, httpclient: {}, producerGroup: 'PG_console', ...SHORT_INTERVALS_MS });
    clients.push(producer);
    await producer.ready();
    const sent = [];
    for (let i = 0; i < 12; i++) sent.push(await producer.send(message('ConsoleTopic', 'TagA', `console-key-${i}`, `console body ${i}`)));
    t.ok(sent.every((r) => r.sendStatus === 'SEND_OK'), '12 sends SEND_OK');
    const received = new Set<string>();
    const consumer = new ons.Consumer({ nameSrv: cluster.namesrvAddr, httpclient: {}, consumerGroup: 'CG_console', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', ...SHORT_INTERVALS_MS });
    consumer.on('error', () => undefined);
    clients.push(consumer);
    consumer.subscribe('ConsoleTopic', '*', async (m) => void received.add(m.body.toString()));
    const deadline = Date.now() + 30_000;
    while (received.size < 12 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    t.equal(received.size, 12, 'the consumer received the 12');
    await new Promise((resolve) => setTimeout(resolve, 600)); // offsets persisted (every 200 ms)
    await consumer.close();
    for (let i = 12; i < 18; i++) await producer.send(message('ConsoleTopic', 'TagB', `console-key-${i}`, `console body ${i}`));

    // Groups: the page's lag equals mqadmin consumerProgress.
    const progress = await mqadmin('consumerProgress', '-g', 'CG_console', '-t', 'ConsoleTopic');
    t.equal(progress.code, 0, progress.stderr);
    const diffTotal = Number(/Diff Total: (\d+)/.exec(progress.stdout)?.[1]);
    const rows = progress.stdout.split('\n').filter((l) => l.startsWith('ConsoleTopic')).map((l) => l.trim().split(/\s+/));
    await page.goto(`${url}#/groups`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('button[data-group-name="CG_console"]', { timeout: 15_000 });
    await page.click('button[data-group-name="CG_console"]');
    await page.waitForSelector('[data-testid="lag-total"]', { timeout: 15_000 });
    const shownTotal = Number(/Lag total: (\d+)/.exec(await page.$eval('[data-testid="lag-total"]', (e) => e.textContent ?? '') ?? '')?.[1]);
    t.equal(shownTotal, diffTotal, `lag total on the page (${shownTotal}) = mqadmin consumerProgress Diff Total (${diffTotal})`);
    t.ok(diffTotal > 0, 'a lag to show');
    const pageRows = await page.$$eval('table[data-testid="group-progress"] tbody tr', (trs) => trs.map((tr) => [...(tr as unknown as { querySelectorAll(s: string): Iterable<{ textContent: string | null }> }).querySelectorAll('th, td')].map((c) => c.textContent ?? '')));
    const perQueue = (r: string[][], q: number, lag: number): string[] => r.filter((x) => x[0] === 'ConsoleTopic').map((x) => `${x[2]}:${x[lag]}`).sort();
    t.same(perQueue(pageRows.map((r) => r.map(String)), 0, 5), perQueue(rows, 0, 6), 'per queue lag = consumerProgress #Diff');
    await check('groups');

    // Messages: by key finds the ali-ons message; by id too.
    const target = sent[3] as (typeof sent)[number];
    await page.goto(`${url}#/messages`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#msg-topic');
    await typeInto(page, '#msg-topic', 'ConsoleTopic');
    await typeInto(page, '#msg-key', 'console-key-3');
    await page.click('form[aria-labelledby="msg-form-title"] button[type="submit"]');
    await page.waitForSelector('article.message', { timeout: 15_000 });
    const found = await page.$$eval('article.message', (as) => as.map((a) => ({ id: a.getAttribute('data-msgid'), text: a.textContent ?? '' })));
    t.equal(found.length, 1, 'one message has key console-key-3');
    t.equal(found[0]?.id, target.msgId, 'it is the message ali-ons sent (same msgId)');
    t.match(found[0]?.text ?? '', /console body 3/, 'with its body');
    await check('messages');

    await page.goto(`${url}#/topics`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('button[data-topic="ConsoleTopic"]', { timeout: 15_000 });
    await page.click('button[data-topic="ConsoleTopic"]');
    await page.waitForSelector('table[data-testid="queue-stats"] tbody tr');
    await check('topics');
    await page.goto(`${url}#/charts`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('section[data-chart-group="RaftNode00"] svg', { timeout: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await check('charts');
    await page.goto(`${url}#/cluster`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('section[data-group="RaftNode00"] tr[data-bid="0"]');
    await check('cluster');

    // The member the console read from dies: the next search goes to another member at once.
    const leader = await page.$eval('section[data-group="RaftNode00"] tr[data-bid="0"]', (tr) => tr.getAttribute('data-member') ?? '');
    process.kill(cluster.pidOf(leader), 'SIGKILL');
    await page.goto(`${url}#/messages`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#msg-topic');
    await typeInto(page, '#msg-topic', 'ConsoleTopic');
    await typeInto(page, '#msg-key', 'console-key-5');
    await page.click('form[aria-labelledby="msg-form-title"] button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('article.message') !== null || document.querySelector('[role="alert"]') !== null, { timeout: 15_000 });
    const afterKill = await page.$$eval('article.message', (as) => as.map((a) => a.getAttribute('data-msgid')));
    t.same(afterKill, [sent[5]?.msgId], `found by key right after the SIGKILL of ${leader}, from another member`);
  });
}
