// Goal: config validation refuses what cannot travel (issue 11): a maxEntryBodyBytes whose entry,
// sent alone in an Append, would not fit in a 64 MiB peer frame (it used to be accepted up to
// the cap: such a body was stored, then encodeFrame threw in PeerTransport.send whenever that
// node led); a broker maxMessageSize whose stored message cannot fit in a 16 MiB remoting frame;
// member ids and groups with path characters (the selfId names the directory dledger-<selfId>).
// Method: the largest maxEntryBodyBytes the validation accepts is found by bisection, then an
// Append holding one record of that size (header fields at their widest) is framed with the
// node's own encoder and cap.
import t from 'tap';
import { buildBrokerConfig, BrokerConfigError, maxStoredMessageBytes } from '../../src/broker/config.js';
import { buildNodeConfig, ConfigError } from '../../src/node/config.js';
import { encodeFrame } from '../../src/node/peer-frame.js';
import { FRAME_MAX_BYTES as REMOTING_FRAME_MAX_BYTES } from '../../src/remoting/frame.js';

const MIB = 1024 * 1024;
const PEER_FRAME_MAX_BYTES = 64 * MIB;
const RECORD_HEADER_BYTES = 48;

function accepts(build: () => unknown): boolean {
  try {
    build();
    return true;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof BrokerConfigError) return false;
    throw error;
  }
}

/** The largest n in [low, high] with ok(n), given ok(low). */
function largestAccepted(low: number, high: number, ok: (n: number) => boolean): number {
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (ok(middle)) low = middle;
    else high = middle - 1;
  }
  return low;
}

t.test('the largest accepted maxEntryBodyBytes travels in one Append frame', async (t) => {
  const node = (n: number) => () => buildNodeConfig({ maxEntryBodyBytes: String(n), mappedFileSizeForEntryData: String(128 * MIB) });
  t.notOk(accepts(node(PEER_FRAME_MAX_BYTES)), 'a body equal to the peer frame cap is refused');
  const largest = largestAccepted(1, PEER_FRAME_MAX_BYTES, (n) => accepts(node(n)));
  t.comment(`largest accepted maxEntryBodyBytes: ${largest}`);
  const id = 'n'.repeat(64);
  const append = {
    type: 'Append', from: id, to: id, term: Number.MAX_SAFE_INTEGER, prevLogIndex: Number.MAX_SAFE_INTEGER, prevLogTerm: Number.MAX_SAFE_INTEGER,
    commitIndex: Number.MAX_SAFE_INTEGER, rawPos: Number.MAX_SAFE_INTEGER, raw: new Uint8Array(RECORD_HEADER_BYTES + largest),
  };
  t.doesNotThrow(() => encodeFrame(append, PEER_FRAME_MAX_BYTES), 'an Append of one such entry fits the peer frame cap');
  t.match((() => { try { node(PEER_FRAME_MAX_BYTES)(); return ''; } catch (error) { return (error as Error).message; } })(), /maxEntryBodyBytes: 67108864 is over \d+: an entry with its 48-byte record header and the Append frame's overhead/);
});

t.test('the largest accepted broker maxMessageSize travels in one remoting frame, and in one Append', async (t) => {
  const base = { namesrvAddr: '127.0.0.1:9876', brokerIP1: '127.0.0.1', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911', dLegerSelfId: 'n0', storePathRootDir: '/tmp/x', mappedFileSizeCommitLog: String(1024 * MIB) };
  const broker = (n: number) => () => buildBrokerConfig({ ...base, maxMessageSize: String(n) });
  t.notOk(accepts(broker(64 * MIB)), '64 MiB refused');
  t.notOk(accepts(broker(REMOTING_FRAME_MAX_BYTES)), '16 MiB refused');
  const largest = largestAccepted(1, 64 * MIB, (n) => accepts(broker(n)));
  t.comment(`largest accepted maxMessageSize: ${largest}`);
  // A SEND_MESSAGE_V2 of that body with 64 KiB of header, and a pull answer of its stored form.
  t.ok(largest + 8 + 64 * 1024 <= REMOTING_FRAME_MAX_BYTES, 'a send of it fits a remoting frame');
  t.ok(maxStoredMessageBytes(largest) + 8 + 4096 <= REMOTING_FRAME_MAX_BYTES, 'its stored message fits a pull answer');
  t.ok(accepts(() => buildNodeConfig({ maxEntryBodyBytes: String(maxStoredMessageBytes(largest)), mappedFileSizeForEntryData: String(1024 * MIB) })), 'and a DLedger entry');
});

t.test('ids and groups with path characters are refused', async (t) => {
  for (const id of ['../n0', 'n0/x', 'n\\0', '..', 'n\u00000', 'a..b', 'x'.repeat(65)]) {
    t.notOk(accepts(() => buildNodeConfig({ selfId: id, peers: `${id}-127.0.0.1:1` })), `selfId ${JSON.stringify(id)}`);
  }
  t.notOk(accepts(() => buildNodeConfig({ selfId: 'n0', peers: 'n0-127.0.0.1:1;../../etc-127.0.0.1:2' })), 'a peer id with path characters');
  for (const group of ['..', 'a/b', 'a\\b', 'a..b', 'a\u0000b']) t.notOk(accepts(() => buildNodeConfig({ group })), `group ${JSON.stringify(group)}`);
  t.ok(accepts(() => buildNodeConfig({ selfId: 'n0', peers: 'n0-127.0.0.1:1;n1.b_2-127.0.0.1:2', group: 'Raft-Node.00' })), 'ordinary ids and groups');
  const base = { namesrvAddr: '127.0.0.1:9876', brokerIP1: '127.0.0.1', enableDLegerCommitLog: 'true', dLegerPeers: 'n0-127.0.0.1:40911', storePathRootDir: '/tmp/x' };
  t.notOk(accepts(() => buildBrokerConfig({ ...base, dLegerSelfId: '../n0' })), 'broker dLegerSelfId');
  t.notOk(accepts(() => buildBrokerConfig({ ...base, dLegerSelfId: 'n0', dLegerGroup: '../g' })), 'broker dLegerGroup');
  t.notOk(accepts(() => buildBrokerConfig({ ...base, dLegerSelfId: 'n0', brokerName: 'a/b' })), 'broker brokerName');
});
