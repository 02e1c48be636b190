// The console's browser tests' harness: a fast-try cluster (the shipped confs on free ports, as
// test/quickstart does), `sh bin/mqconsole` against it as a child process, and Debian's chromium
// driven by puppeteer-core (no browser download). Everything started is stopped by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { alive, FAST_TRY, NODES, requireDist, ROOT, runSh, writeQuickConfs } from '../quickstart/helpers.js';

// Browser globals for the functions run in the page (page.evaluate): this program has no DOM lib.
interface PageElement { getAttribute(name: string): string | null; querySelectorAll(selector: string): ArrayLike<PageElement>; querySelector(selector: string): PageElement | null; textContent: string | null }
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; querySelector(selector: string): PageElement | null; documentElement: { scrollWidth: number }; body: { scrollWidth: number } };
declare const window: { innerWidth: number } & Record<string, unknown>;

/** Debian's chromium binary (the /usr/bin/chromium wrapper script execs it), or null. */
export function chromiumPath(): string | null {
  for (const candidate of ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** Under CI a missing chromium fails the test file (it is installed by .ci/run); elsewhere it is skipped. */
export function requireChromium(t: Test): string | null {
  const found = chromiumPath();
  if (found !== null) return found;
  const why = `chromium is not installed (Debian: apt-get install -y --no-install-recommends chromium)${process.env['CHROMIUM_INSTALL_ERROR'] ? `; .ci/run: ${process.env['CHROMIUM_INSTALL_ERROR']}` : ''}`;
  if (process.env['CI'] === 'true') t.fail(why);
  else t.test('browser test', { skip: `${why}; skipped outside CI` }, () => undefined);
  return null;
}

export interface FastTryCluster {
  readonly dir: string;
  readonly logDir: string;
  readonly namesrvAddr: string;
  readonly clientPorts: readonly number[];
  readonly env: NodeJS.ProcessEnv;
  /** The pid in broker-<node>.pid. */
  pidOf(node: string): number;
}

/** `fast-try.sh start` on temp confs (prepare may add to them, e.g. ACL keys); teardown SIGKILLs, by pid, every process from its pid files. */
export async function startFastTry(t: Test, extraEnv: NodeJS.ProcessEnv = {}, prepare: (confDir: string, dir: string) => void = () => undefined): Promise<FastTryCluster & { startOutput: string }> {
  requireDist();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-'));
  const logDir = path.join(dir, 'logs');
  const { confDir, namesrvPort, clientPorts } = await writeQuickConfs(dir);
  prepare(confDir, dir);
  const env = { ...process.env, FAST_TRY_CONF_DIR: confDir, ROCKETMQ_LOG_DIR: logDir, NAMESRV_PORT: String(namesrvPort), FAST_TRY_GRACE_SECONDS: '4', ...extraEnv };
  const pidFiles = ['namesrv', 'console', ...NODES.map((node) => `broker-${node}`)].map((name) => path.join(logDir, `${name}.pid`));
  const seen = new Set<number>();
  const note = (): void => {
    for (const file of pidFiles) if (fs.existsSync(file)) seen.add(Number(fs.readFileSync(file, 'utf8').trim()));
  };
  t.teardown(() => {
    note();
    for (const pid of seen) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const start = await runSh(FAST_TRY, ['start'], env, 60_000);
  note();
  if (start.code !== 0) throw new Error(`fast-try start failed:\n${start.stdout}${start.stderr}`);
  const pidOf = (node: string): number => Number(fs.readFileSync(path.join(logDir, `broker-${node}.pid`), 'utf8').trim());
  return { dir, logDir, namesrvAddr: `127.0.0.1:${namesrvPort}`, clientPorts, env, pidOf, startOutput: start.stdout };
}

export interface ConsoleProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
}

/** `sh bin/mqconsole -n ... --port 0 args...`; resolves with the URL it prints. */
export async function startConsole(t: Test, namesrvAddr: string, args: readonly string[] = []): Promise<ConsoleProcess> {
  const child = spawn('sh', [path.join(ROOT, 'bin/mqconsole'), '-n', namesrvAddr, '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+\/)/.exec(out);
    if (match !== null) return { url: match[1] as string, child, output: () => out };
    if (child.exitCode !== null) throw new Error(`mqconsole exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`mqconsole printed no URL within 20 s:\n${out}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function launchBrowser(t: Test, executablePath: string): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // No sandbox: CI runs as root, where chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
  t.teardown(async () => {
    const pid = browser.process()?.pid;
    await browser.close().catch(() => undefined);
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  return browser;
}

/** Where the screenshots go: $CONSOLE_SCREENSHOT_DIR, else a fresh temp directory (printed by the test). */
export function screenshotDir(): string {
  const dir = process.env['CONSOLE_SCREENSHOT_DIR'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'console-shots-'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The page's horizontal overflow in CSS px (0 = none): the document is wider than the viewport. */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth);
}

export interface MemberRow {
  readonly member: string;
  readonly bid: string;
  readonly role: string;
  readonly live: string;
  readonly addr: string;
}

/** The member rows of one group's table on the cluster page. */
export async function memberRows(page: Page, group: string): Promise<MemberRow[]> {
  return page.$$eval(`section[data-group="${group}"] tr[data-member]`, (rows) => rows.map((row) => ({
    member: row.getAttribute('data-member') ?? '',
    bid: row.getAttribute('data-bid') ?? '',
    role: row.getAttribute('data-role') ?? '',
    live: row.getAttribute('data-live') ?? '',
    addr: row.querySelectorAll('td')[1]?.textContent ?? '',
  })));
}
