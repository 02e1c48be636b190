// The properties parser must read what Java writes and RocketMQ's quick-start confs contain, and
// reject what Java would silently misread (duplicate keys, a bad \u escape, a dangling
// continuation) with the source name and line. Method: fixed inputs and a seeded round trip.
import t from 'tap';
import { formatProperties, parseProperties, PropertiesError } from '../../src/util/properties.js';
import { Prng } from '../../src/util/prng.js';

t.test('reads the RocketMQ DLedger quick-start conf', async (t) => {
  const conf = `brokerClusterName = RaftCluster
brokerName=RaftNode00
listenPort=30911
namesrvAddr=127.0.0.1:9876
storePathRootDir=/tmp/rmqstore/node00
storePathCommitLog=/tmp/rmqstore/node00/commitlog
enableDLegerCommitLog=true
dLegerGroup=RaftNode00
dLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913
## must be unique
dLegerSelfId=n0
sendMessageThreadPoolNums=16
`;
  const p = parseProperties(conf, 'broker-n0.conf');
  t.equal(p['brokerClusterName'], 'RaftCluster');
  t.equal(p['dLegerPeers'], 'n0-127.0.0.1:40911;n1-127.0.0.1:40912;n2-127.0.0.1:40913');
  t.equal(p['sendMessageThreadPoolNums'], '16');
  t.equal(Object.keys(p).length, 11);
});

t.test('Java syntax: separators, continuations, escapes', async (t) => {
  const p = parseProperties('a:1\nb 2\nc = multi \\\n   line\nd=tab\\there\ne=\\u0041\\=x\nkey\\ with\\ space=v\n! bang comment\n', 'x');
  t.same({ ...p }, { a: '1', b: '2', c: 'multi line', d: 'tab\there', e: 'A=x', 'key with space': 'v' });
});

t.test('errors name the source and the line', async (t) => {
  t.throws(() => parseProperties('a=1\na=2\n', 'f.conf'), new PropertiesError('f.conf:2: key "a" is set twice'));
  t.throws(() => parseProperties('x=\\u12G4', 'f.conf'), /f.conf:1: malformed \\u escape/);
  t.throws(() => parseProperties('a=1\nb=2\\', 'f.conf'), /f.conf:2: line continuation at the end/);
  t.throws(() => parseProperties('=v', 'f.conf'), /f.conf:1: a value without a key/);
});

t.test('format then parse is the identity (seeded)', async (t) => {
  const prng = new Prng(5);
  const alphabet = 'ab =:#!\\\t\nxyzé';
  for (let round = 0; round < 200; round++) {
    const entries: Record<string, string> = {};
    for (let k = 0; k < 5; k++) {
      const make = (): string => Array.from({ length: prng.intBetween(1, 8) }, () => alphabet[prng.intBetween(0, alphabet.length)]).join('');
      entries[`${make()}${k}`] = make();
    }
    const parsed = parseProperties(formatProperties(entries, 'c'), 'mem');
    if (JSON.stringify({ ...parsed }) !== JSON.stringify(entries)) return t.fail(`round ${round}: ${JSON.stringify(entries)} -> ${JSON.stringify(parsed)}`);
  }
  t.pass('200 random maps round-trip');
});
