// The gRPC ACL decisions (src/grpc/grpc-acl.ts) on the headers rocketmq-client-nodejs 1.0.8 writes
// (BaseClient.getRequestMetadata: MQv2-HMAC-SHA1 over x-mq-date-time, hex), and Guava's jump
// consistent hash the FIFO queue selection uses.
import t from 'tap';
import { parseAclText } from '../../src/acl/acl-file.js';
import { Perm } from '../../src/acl/permission.js';
import { checkGrpcRequest, groupNeed, grpcSignature, parseAuthorization, parseDateTime, type GrpcNeed } from '../../src/grpc/grpc-acl.js';
import { guavaConsistentHash, queueOfMessageGroup } from '../../src/grpc/queue-selection.js';

const rules = parseAclText([
  'globalWhiteRemoteAddresses:',
  '  - 10.9.*.*',
  'accounts:',
  '  - accessKey: producerKey',
  '    secretKey: producerSecret',
  '    defaultTopicPerm: DENY',
  '    defaultGroupPerm: DENY',
  '    topicPerms:',
  '      - TopicA=PUB',
  '    groupPerms:',
  '      - GroupA=SUB',
  '',
].join('\n'), 'plain_acl.yml');

const NOW = Date.UTC(2026, 11, 7, 9, 30, 0);
const dateTime = '20261207T093000Z';
const header = (key: string, secret: string, at = dateTime): string => `MQv2-HMAC-SHA1 Credential=${key}, SignedHeaders=x-mq-date-time, Signature=${grpcSignature(secret, at)}`;
const check = (authorization: string | null, needed: GrpcNeed[] = [{ resource: 'TopicA', perm: Perm.PUB }], host = '127.0.0.1', at = dateTime) =>
  checkGrpcRequest(rules, { authorization, dateTime: at }, host, needed, 'SendMessage', NOW, 900_000);

t.test('header parsing and the clients\' signature', async (t) => {
  t.equal(parseDateTime(dateTime), NOW);
  t.equal(parseDateTime('2026-12-07'), null);
  t.same(parseAuthorization(header('producerKey', 'producerSecret')), { accessKey: 'producerKey', signature: grpcSignature('producerSecret', dateTime) });
  t.equal(parseAuthorization('Basic abc'), null, 'another scheme');
  t.equal(parseAuthorization('MQv2-HMAC-SHA1 Credential=k, Signature=zz'), null, 'a signature that is not 40 hex digits');
  t.equal(parseAuthorization(`MQv2-HMAC-SHA1 Credential=k/region/channel, SignedHeaders=x-mq-date-time, Signature=${'A'.repeat(40)}`)?.accessKey, 'k', 'Java proxy form AK/region/channel');
  // HmacSHA1("key", "The quick brown fox jumps over the lazy dog") = de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9
  t.equal(grpcSignature('key', 'The quick brown fox jumps over the lazy dog'), 'DE7C9B85B8B78AA6BC8A7A36F70A90701C9DB4D9');
});

t.test('decisions', async (t) => {
  t.equal(check(header('producerKey', 'producerSecret')), null, 'signed, PUB on TopicA: allowed');
  t.equal(check(null)?.kind, 'unsigned', 'no authorization: refused');
  t.equal(check(null, undefined, '10.9.1.2'), null, 'a global white address passes unsigned');
  t.equal(check(header('producerKey', 'wrong-secret'))?.kind, 'bad-signature');
  t.equal(check(header('nobody77', 'producerSecret'))?.kind, 'unknown-access-key');
  t.equal(check(header('producerKey', 'producerSecret'), [{ resource: 'TopicB', perm: Perm.PUB }])?.kind, 'no-permission', 'TopicB: default DENY');
  t.equal(check(header('producerKey', 'producerSecret'), [{ resource: 'TopicA', perm: Perm.SUB }])?.kind, 'no-permission', 'SUB on a PUB-only topic');
  t.equal(check(header('producerKey', 'producerSecret'), [groupNeed('GroupA', Perm.SUB)]), null, 'groups are kept as %RETRY%<group>');
  const old = '20261207T080000Z';
  t.match(check(header('producerKey', 'producerSecret', old), undefined, '127.0.0.1', old)?.remark, /grpcClockSkewMaxMs/, 'a correctly signed date-time 90 min old: refused (replay bound)');
  t.equal(check(header('producerKey', 'producerSecret'), undefined, '127.0.0.1', '20261207T093001Z')?.kind, 'bad-signature', 'the signature covers the date-time sent');
});

t.test('FIFO queue selection: Guava consistentHash', async (t) => {
  const problems: string[] = [];
  for (let buckets = 1; buckets <= 16; buckets++) {
    for (let input = -50; input < 50; input++) {
      const b = guavaConsistentHash(BigInt(input), buckets);
      if (!(b >= 0 && b < buckets)) problems.push(`input ${input}: bucket ${b} of ${buckets}`);
      // Jump consistent hash moves a key only to the new bucket when one is added.
      const next = guavaConsistentHash(BigInt(input), buckets + 1);
      if (next !== b && next !== buckets) problems.push(`input ${input}: ${b} -> ${next} with ${buckets + 1} buckets`);
    }
  }
  t.same(problems, [], 'in range, and a key moves only to an added bucket (1,600 cases)');
  t.equal(guavaConsistentHash(0n, 1), 0);
  t.equal(queueOfMessageGroup('order-A', 8), queueOfMessageGroup('order-A', 8), 'stable');
  const used = new Set(Array.from({ length: 200 }, (_, i) => queueOfMessageGroup(`group-${i}`, 8)));
  t.equal(used.size, 8, '200 groups use all 8 queues');
});
