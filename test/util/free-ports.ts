// Goal: ports for the servers a test starts in child processes (brokers, nodes, name servers), which
// must be written into their confs before they bind. A port the OS hands out for bind(0) and then
// releases is taken again by the next outgoing connection of any process (the kernel's ephemeral
// range serves connect() too): a fresh CI run lost a broker start to `listen EADDRINUSE` that way
// (test/quickstart/two-groups.test.ts, 2026-12-07). So ports come from below the ephemeral range,
// where connect() never picks, and each one is claimed by an exclusive lock file shared by every
// test process on the machine (tap runs files in parallel), then probed by binding it.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Lowest port handed out: above the registered services tests might meet (e.g. 9876, 8080, 10911). */
const LOWEST_PORT = 20_000;
/** A claim older than this is free again: no test keeps a cluster running for that long. */
const CLAIM_LIFETIME_MS = 30 * 60_000;
const CLAIM_DIR = path.join(os.tmpdir(), 'dledger-test-ports');
/** Bound on the ports tried for one call: the range holds ~12,000, a run claims a few hundred. */
const MAX_TRIES_PER_PORT = 2_000;

/** The first port of the kernel's ephemeral range (connect() and bind(0) pick from there). */
function ephemeralLow(): number {
  try {
    const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > LOWEST_PORT + 1_000) return low;
  } catch {
    // Not Linux, or /proc not mounted: Linux's default range.
  }
  return 32_768;
}

/** Claims port for this process unless another test process claimed it within CLAIM_LIFETIME_MS. */
function claim(port: number): boolean {
  const file = path.join(CLAIM_DIR, String(port));
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    if (Date.now() - fs.statSync(file).mtimeMs < CLAIM_LIFETIME_MS) return false;
    fs.unlinkSync(file);
    fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch {
    return false; // another process renewed or took it between our calls
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** count distinct ports below the ephemeral range, claimed for this run and bindable now. */
export async function freePorts(count: number): Promise<number[]> {
  fs.mkdirSync(CLAIM_DIR, { recursive: true });
  const high = ephemeralLow();
  const span = high - LOWEST_PORT;
  let next = LOWEST_PORT + Math.floor(Math.random() * span);
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries >= MAX_TRIES_PER_PORT * count) throw new Error(`freePorts: no free port in ${LOWEST_PORT}-${high - 1} after ${tries} tries (claims in ${CLAIM_DIR})`);
    const port = next;
    next = next + 1 >= high ? LOWEST_PORT : next + 1;
    if (claim(port) && (await bindable(port))) ports.push(port);
  }
  return ports;
}
