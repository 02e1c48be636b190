// Goal: a client that reaches the broker or the name server cannot stall the event loop that also
// runs Raft with a JSON body (issue 11): a body over its code's cap (heartbeatBodyMaxBytes,
// registerBrokerBodyMaxBytes) is refused with an answer naming the cap, before anything is
// parsed, and counted; a body under the cap of the costliest shape (distinct keys: V8's
// JSON.parse and the old parser ~100-300 ms/MiB) is read without a long stall; a huge JSON
// header is read in linear time too.
// Method: one in-process group behind a name server (broker-harness.ts, real TCP); the loop's
// longest stall measured around each request, as CPU time (see longestStallMs).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';
import { EXT_FIELDS_MAX } from '../../src/remoting/json-header.js';
import { startCluster } from './broker-harness.js';
import { until } from './group-harness.js';

const MIB = 1024 * 1024;
/** The cap set for this test (default 1 MiB): larger, so old and new differ far beyond noise. */
const HEARTBEAT_CAP_BYTES = 4 * MIB;
/**
 * The reader takes ~10 ms per MiB, the old parser 200-300 (JSON.parse ~100) on distinct keys; the
 * client's encoding in this same process and GC add ~50-100 ms.
 */
const STALL_LIMIT_MS = 400;

/** A JSON array of objects with distinct keys, about `bytes` long. */
function distinctKeys(bytes: number, prefix = ''): string {
  const parts: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const piece = `{"${prefix}k${i}":${i}}`;
    parts.push(piece);
    size += piece.length + 1;
  }
  return `[${parts.join(',')}]`;
}

/** Sends raw bytes to 127.0.0.1:port and resolves with the first bytes answered. */
function rawRequest(port: number, frame: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(frame));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data);
    });
    socket.once('error', reject);
  });
}

/**
 * Runs `request` and reports the loop's longest stall: its length (wall ms) and the CPU this
 * process used meanwhile (ms, all threads). The assertions use the CPU: on a loaded machine a
 * stall is long because no core was free (wall >> CPU), which says nothing of the parser; a
 * stall of our own work is CPU time (the loop-stall detector of src/node/loop-stall.ts tells the
 * two apart the same way).
 */
async function longestStallMs<T>(request: () => Promise<T>): Promise<{ result: T; stallMs: number; stallCpuMs: number }> {
  const SAMPLE_MS = 5;
  let lastMs = performance.now();
  let lastCpu = process.cpuUsage();
  let stallMs = 0;
  let stallCpuMs = 0;
  const sampler = setInterval(() => {
    const nowMs = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const lateMs = nowMs - lastMs - SAMPLE_MS;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (lateMs > stallMs) stallMs = lateMs;
    // The CPU of a stall is at most its length: a gap's CPU beyond it was other threads' (GC, pool).
    if (lateMs > 0) stallCpuMs = Math.max(stallCpuMs, Math.min(cpuMs, lateMs + SAMPLE_MS));
    lastMs = nowMs;
    lastCpu = process.cpuUsage();
  }, SAMPLE_MS);
  try {
    const result = await request();
    return { result, stallMs, stallCpuMs };
  } finally {
    clearInterval(sampler);
  }
}

t.test('JSON bodies and headers cannot stall the broker or the name server', async (t) => {
  const cluster = await startCluster({ heartbeatBodyMaxBytes: String(HEARTBEAT_CAP_BYTES) });
  t.teardown(() => cluster.close());
  t.teardown(() => { if (t.passing() === false) t.comment(cluster.logs.slice(-40).join('\n')); });
  const master = await until(() => cluster.master(), 10_000, 'a master');

  t.comment('HEART_BEAT over heartbeatBodyMaxBytes (4 MiB here): refused unparsed, counted, logged');
  const huge = Buffer.from(`{"clientID":"c","consumerDataSet":[],"junk":${distinctKeys(12 * MIB)}}`);
  const refused = await longestStallMs(() => cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, huge));
  t.equal(refused.result.code, ResponseCode.SYSTEM_ERROR);
  t.match(refused.result.remark, `HEART_BEAT body of ${huge.length} bytes exceeds heartbeatBodyMaxBytes=${HEARTBEAT_CAP_BYTES}`);
  t.equal(master.refusals.count('heartbeatBodyMaxBytes'), 1, 'counted');
  t.ok(cluster.logs.some((line) => line.includes('refused by heartbeatBodyMaxBytes')), 'logged');
  t.comment(`12 MiB heartbeat refused; longest loop stall ${refused.stallMs.toFixed(1)} ms (${refused.stallCpuMs.toFixed(1)} ms of CPU)`);

  t.comment('HEART_BEAT just under the cap, of the costliest shape: read without a long stall');
  const under = Buffer.from(`{"clientID":"c","consumerDataSet":[],"junk":${distinctKeys(HEARTBEAT_CAP_BYTES - 100)}}`);
  t.ok(under.length <= HEARTBEAT_CAP_BYTES);
  const read = await longestStallMs(() => cluster.call(master.brokerAddr, RequestCode.HEART_BEAT, {}, under));
  t.equal(read.result.code, ResponseCode.SUCCESS, 'accepted: the unknown field is skipped');
  t.ok(read.stallCpuMs < STALL_LIMIT_MS, `longest loop stall ${read.stallMs.toFixed(1)} ms, ${read.stallCpuMs.toFixed(1)} ms of it on the CPU (< ${STALL_LIMIT_MS}) for a 4 MiB distinct-key body`);

  t.comment(`a JSON header with more than ${EXT_FIELDS_MAX} extFields: the frame is refused (a Map of a million keys took ~0.8 s)`);
  const fields: Record<string, string> = {};
  for (let i = 0; i <= EXT_FIELDS_MAX; i++) fields[`x${i}`] = 'v';
  const manyFields = await cluster.client.invoke(master.brokerAddr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO, { extFields: fields }), 20_000).catch((error: Error) => error);
  t.ok(manyFields instanceof Error || manyFields.code === ResponseCode.SYSTEM_ERROR, 'refused');
  t.ok(cluster.logs.some((line) => line.includes(`more than ${EXT_FIELDS_MAX} keys`)), 'logged with the reason');
  delete fields[`x${EXT_FIELDS_MAX}`];
  t.equal((await cluster.call(master.brokerAddr, RequestCode.GET_BROKER_RUNTIME_INFO, fields)).code, ResponseCode.SUCCESS, `${EXT_FIELDS_MAX} are fine`);
  t.comment('a 12 MiB JSON header of one skipped field: read in linear time');
  const junkHeader = Buffer.from(JSON.stringify({ code: RequestCode.GET_BROKER_RUNTIME_INFO, extFields: {}, flag: 0, language: 'JAVA', opaque: 77, version: 0, junk: JSON.parse(distinctKeys(12 * MIB)) as unknown }));
  const frame = Buffer.alloc(8 + junkHeader.length);
  frame.writeInt32BE(4 + junkHeader.length, 0);
  frame.writeInt32BE(junkHeader.length, 4);
  junkHeader.copy(frame, 8);
  const answer = await longestStallMs(() => rawRequest(master.port, frame));
  t.ok(answer.result.length > 0, 'answered');
  t.ok(answer.stallCpuMs < 700, `longest loop stall ${answer.stallMs.toFixed(1)} ms, ${answer.stallCpuMs.toFixed(1)} ms of it on the CPU (< 700) for a 12 MiB header (JSON.parse of it: ~1.2 s)`);

  t.comment('REGISTER_BROKER over registerBrokerBodyMaxBytes (8 MiB) at the name server: refused unparsed');
  const before = cluster.brokerAddrs();
  const body = Buffer.from(`{"topicConfigSerializeWrapper":{"topicConfigTable":{},"junk":${distinctKeys(9 * MIB)}}}`);
  const register = await cluster.call(cluster.namesrvAddr, RequestCode.REGISTER_BROKER, { brokerName: 'RaftNode00', brokerAddr: '10.9.9.9:1', clusterName: 'RaftCluster', haServerAddr: '10.9.9.9:1', brokerId: 7 }, body);
  t.equal(register.code, ResponseCode.SYSTEM_ERROR);
  t.match(register.remark, `REGISTER_BROKER body of ${body.length} bytes exceeds registerBrokerBodyMaxBytes=${8 * MIB}`);
  t.equal(cluster.namesrv.refusals.count('registerBrokerBodyMaxBytes'), 1);
  t.same(cluster.brokerAddrs(), before, 'routes unchanged');
});
