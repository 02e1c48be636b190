// Goal (issue 15, access): against an ACL-enabled fast-try cluster the console shows no broker data
// without a login, refuses a wrong secret, lets a non-admin account read but shows the broker's
// refusal of a write, and lets an admin account create a topic (listed by mqadmin topicList).
// Method: fast-try with aclEnable=true on the brokers and the name server (as
// test/security/acl-fast-try.test.ts), FAST_TRY_CONSOLE=1 without any console account (ACL found
// by the broker's refusal of the first unsigned poll), Debian's chromium via puppeteer-core.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Page } from 'puppeteer-core';
import { MQADMIN, NODES, runSh } from '../quickstart/helpers.js';
import { launchBrowser, requireChromium, screenshotDir, startFastTry } from './harness.js';

// Browser globals for the functions run in the page (page.evaluate): this program has no DOM lib.
interface PageElement { textContent: string | null }
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement> };

const APP = { accessKey: 'appUser01', secretKey: 'appSecret01' };
const ADMIN = { accessKey: 'adminKey01', secretKey: 'adminSecret01' };

const chromium = requireChromium(t);

async function login(page: Page, account: { accessKey: string; secretKey: string }): Promise<void> {
  await page.waitForSelector('#login-access');
  for (const [selector, text] of [['#login-access', account.accessKey], ['#login-secret', account.secretKey]] as const) {
    await page.click(selector, { count: 3 });
    await page.keyboard.press('Backspace');
    await page.type(selector, text);
  }
  await page.click('form.login button[type="submit"]');
}

if (chromium !== null) {
  t.test('ACL on: login, read, refused and allowed writes', async (t) => {
    const cluster = await startFastTry(t, { FAST_TRY_CONSOLE: '1', FAST_TRY_CONSOLE_PORT: '0' }, (confDir, dir) => {
      const aclPath = path.join(dir, 'plain_acl.yml');
      fs.writeFileSync(aclPath, `globalWhiteRemoteAddresses:\naccounts:\n  - accessKey: ${APP.accessKey}\n    secretKey: ${APP.secretKey}\n    admin: false\n  - accessKey: ${ADMIN.accessKey}\n    secretKey: ${ADMIN.secretKey}\n    admin: true\n`);
      for (const node of NODES) fs.appendFileSync(path.join(confDir, `broker-${node}.conf`), `\naclEnable=true\naclFilePath=${aclPath}\naccessKey=${ADMIN.accessKey}\nsecretKey=${ADMIN.secretKey}\n`);
      fs.writeFileSync(path.join(confDir, 'namesrv.conf'), `aclEnable=true\naclFilePath=${aclPath}\n`);
    });
    const url = /console: (http:\/\/\S+\/)/.exec(cluster.startOutput)?.[1] as string;
    const browser = await launchBrowser(t, chromium);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#login-access', { timeout: 20_000 });
    t.equal(await page.$('section[data-group]'), null, 'no broker data before a login');
    const api = await page.evaluate(async () => (await fetch('/api/cluster')).status);
    t.equal(api, 401, '/api/cluster answers 401 without a login');

    await login(page, { accessKey: APP.accessKey, secretKey: 'wrong-secret' });
    await page.waitForFunction(() => /login refused: unknown access key or wrong secret key/.test(document.querySelector('form.login [role="alert"]')?.textContent ?? ''), { timeout: 15_000 });
    t.pass('a wrong secret is refused');

    await page.reload({ waitUntil: 'domcontentloaded' });
    await login(page, APP);
    await page.waitForFunction(() => document.querySelectorAll('section[data-group="RaftNode00"] tr[data-live="true"]').length === 3, { timeout: 20_000 });
    t.pass('a non-admin account reads the cluster: 3 live members');
    await page.screenshot({ path: path.join(screenshotDir(), 'acl-cluster-1280.png'), fullPage: true });
    await page.goto(`${url}#/topics`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#topic-name', { timeout: 10_000 });
    await page.type('#topic-name', 'AclConsoleTopic');
    await page.click('form[aria-labelledby="topic-form-title"] button[type="submit"]');
    await page.waitForFunction(() => /needs an admin account/.test(document.querySelector('form[aria-labelledby="topic-form-title"] [role="alert"]')?.textContent ?? ''), { timeout: 15_000 });
    t.pass('the broker refuses a non-admin write, and the page says why');

    await page.goto(`${url}#/cluster`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('form.login button[type="submit"]');
    await page.click('form.login button[type="submit"]'); // log out
    await login(page, ADMIN);
    await page.waitForFunction(() => /Logged in as adminKey01/.test(document.querySelector('form.login')?.textContent ?? ''), { timeout: 15_000 });
    await page.goto(`${url}#/topics`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#topic-name', { timeout: 10_000 });
    await page.type('#topic-name', 'AclConsoleTopic');
    await page.click('form[aria-labelledby="topic-form-title"] button[type="submit"]');
    await page.waitForFunction(() => /Topic AclConsoleTopic written to/.test(document.querySelector('[role="status"]')?.textContent ?? ''), { timeout: 15_000 });
    const list = await runSh(MQADMIN, ['topicList', '-n', cluster.namesrvAddr], cluster.env, 20_000);
    t.match(list.stdout, /^AclConsoleTopic$/m, 'an admin account creates the topic; mqadmin topicList lists it');
  });
}
