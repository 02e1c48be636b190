// Goal: an attacker who can reach the ports cannot grow a node's or the name server's memory
// without bound, and cannot stall them into an election, while honest traffic keeps flowing:
// 2,000 idle connections, 50 slowloris partial frames near the remoting cap, 500 pipelined gets
// of a 4 MiB entry with the reader paused (an authenticated client: the peer port's bounds hold
// for clients too), and a 15 MiB JSON REGISTER_BROKER body. Real processes: a 3-member
// `dledger server` group and a `mqnamesrv`. Attack connections come from 127.0.0.2 (all of
// 127/8 is loopback on Linux) so per-address caps refuse them and not the honest 127.0.0.1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { encodeFrame, FrameDecoder } from '../../src/node/peer-frame.js';
import { DialerHandshake, loadSecretFile } from '../../src/node/peer-auth.js';
import { encodeCommand } from '../../src/remoting/frame.js';
import { createRequest } from '../../src/remoting/command.js';
import { freePorts, startProcessGroup, until } from '../cluster/helpers.js';
import { testSecretFile } from '../util/peer-secret.js';
import { connectFrom, slowlorisFrame } from './attacker.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const ATTACKER = '127.0.0.2';
const MIB = 1024 * 1024;
const RSS_GROWTH_MAX_BYTES = 200 * MIB;

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A client that proves the secret, then pipelines `count` gets and stops reading. */
async function pipelinedGets(port: number, group: string, to: string, index: number, count: number): Promise<net.Socket> {
  // Its own address: the idle attack has filled 127.0.0.2's quota on the peer port.
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const handshake = new DialerHandshake({ role: 'client', group, from: 'client', to }, loadSecretFile(testSecretFile(), 'clientSecretFile'));
  const decoder = new FrameDecoder(64 * MIB);
  socket.write(encodeFrame(handshake.hello(), 64 * MIB));
  const challenge = await new Promise<unknown>((resolve) => {
    socket.on('data', function onData(chunk: Buffer) {
      decoder.feed(chunk);
      const next = decoder.next();
      if (next !== null) { socket.off('data', onData); resolve(next.value); }
    });
    socket.once('close', () => resolve(null));
  });
  socket.write(encodeFrame(handshake.answer(challenge), 64 * MIB));
  socket.pause(); // the attack: never read the answers
  const gets = Array.from({ length: count }, (_, i) => encodeFrame({ id: i + 1, op: 'get', index }, 64 * MIB));
  socket.write(Buffer.concat(gets));
  return socket;
}

t.test('idle connections, slowloris frames, pipelined big gets and a huge JSON body leave memory bounded and the group serving', async (t) => {
  const group = await startProcessGroup(t, {
    group: 'bounded',
    config: { maxEntryBodyBytes: 4 * MIB, mappedFileSizeForEntryData: 64 * MIB, mappedFileSizeForEntryIndex: 32 * 4096 },
  });
  const leaderId = await group.leader();
  const leaderPid = group.nodes.get(leaderId)?.child.pid as number;
  const leaderPort = Number(group.peerOf(leaderId).split(':').pop());
  const [big] = await group.client.append(new Uint8Array(4 * MIB).fill(7));
  if (big === undefined) throw new Error("no append result");
  const before = await group.client.metadata();

  const [namesrvPort] = await freePorts(1);
  const namesrv = spawn('sh', [path.join(ROOT, 'bin/mqnamesrv'), '-n', String(namesrvPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let namesrvLog = '';
  namesrv.stdout.on('data', (d: Buffer) => { namesrvLog += d.toString(); });
  namesrv.stderr.on('data', (d: Buffer) => { namesrvLog += d.toString(); });
  t.teardown(() => { namesrv.kill('SIGKILL'); });
  await until(() => new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: namesrvPort as number }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), 15_000, 'the name server listening');
  // bin/mqnamesrv execs node, so the launcher's pid is the name server's.
  const namesrvPid = namesrv.pid as number;

  const rssBefore = { leader: rssBytes(leaderPid), namesrv: rssBytes(namesrvPid) };
  // Honest traffic all along: appends through the authenticated client must keep succeeding.
  let honestOk = 0;
  let honestFailed = 0;
  let attacking = true;
  const honest = (async () => {
    for (let i = 0; attacking && i < 10_000; i++) {
      try {
        await group.client.append(Buffer.from(`honest-${i}`));
        honestOk++;
      } catch {
        honestFailed++;
      }
      await sleep(20);
    }
  })();

  const sockets: net.Socket[] = [];
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  // 2,000 idle connections: 1,200 to the name server (its per-address cap is 1,000), 800 to the
  // leader's peer port (cap 256).
  for (let i = 0; i < 1200; i++) sockets.push(await connectFrom(namesrvPort as number, ATTACKER));
  for (let i = 0; i < 800; i++) sockets.push(await connectFrom(leaderPort, ATTACKER));
  // 50 slowloris frames just under the 16 MiB remoting cap, each sent but for its last byte.
  // Another address than the idle attack's, whose quota is full: these meet the byte budget.
  const slowloris = Array.from({ length: 50 }, () => slowlorisFrame(namesrvPort as number, '127.0.0.4', 16 * MIB - 8, sockets));
  // 500 pipelined gets of the 4 MiB entry, answers never read.
  sockets.push(await pipelinedGets(leaderPort, group.group, leaderId, big.index, 500));
  // A 15 MiB JSON REGISTER_BROKER body (code 103).
  const jsonSocket = await connectFrom(namesrvPort as number, '127.0.0.5');
  sockets.push(jsonSocket);
  const body = Buffer.from(`{"topicConfigSerializeWrapper":{"topicConfigTable":{${'"a":1,'.repeat((15 * MIB) / 6 - 10)}"z":1}}}`);
  jsonSocket.write(encodeCommand(createRequest(103, { extFields: { brokerName: 'evil', brokerAddr: '1.2.3.4:1', clusterName: 'c', haServerAddr: '', brokerId: '0' }, body })));
  await Promise.all(slowloris);

  let peakLeader = 0;
  let peakNamesrv = 0;
  for (let i = 0; i < 30; i++) {
    peakLeader = Math.max(peakLeader, rssBytes(leaderPid) - rssBefore.leader);
    peakNamesrv = Math.max(peakNamesrv, rssBytes(namesrvPid) - rssBefore.namesrv);
    await sleep(100);
  }
  attacking = false;
  await honest;
  const after = await group.client.metadata();
  if (after.term !== before.term) for (const [id, node] of group.nodes) t.comment(`${id}:\n${node.output.split('\n').filter((l) => /stalled|PreVote|became|timed out/.test(l)).slice(-12).join('\n')}`);
  t.comment(`RSS growth: leader ${(peakLeader / MIB).toFixed(1)} MiB, name server ${(peakNamesrv / MIB).toFixed(1)} MiB; honest appends ${honestOk} ok, ${honestFailed} failed`);
  t.ok(peakLeader <= RSS_GROWTH_MAX_BYTES, `leader RSS grew ${(peakLeader / MIB).toFixed(1)} MiB (at most 200)`);
  t.ok(peakNamesrv <= RSS_GROWTH_MAX_BYTES, `name server RSS grew ${(peakNamesrv / MIB).toFixed(1)} MiB (at most 200)`);
  t.equal(after.term, before.term, 'no election: the term is unchanged');
  t.equal(after.leaderId, before.leaderId, 'the leader is unchanged');
  t.ok(honestOk >= 20, `honest appends kept committing during the attack (${honestOk})`);
  t.equal(honestFailed, 0, 'no honest append failed');
  t.match(namesrvLog, /partial-frame-budget/, 'the name server closed slowloris frames over its budget and said why');
  t.match(namesrvLog, /max-connections-per-address/, 'the name server refused connections over the per-address cap and said why');
  t.ok(namesrv.exitCode === null, 'the name server is still running');
});
