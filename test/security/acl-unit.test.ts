// Goal: the pieces of the RocketMQ ACL (src/acl/) behave as RocketMQ 4.9's do, checked without
// processes: the signature against fixed vectors (computed outside this code with
// `printf '%s' CONTENT | openssl dgst -sha1 -hmac SECRET -binary | base64` over the content
// RocketMQ's AclUtils.combineRequestContent builds: values of the sorted ext fields minus
// Signature, then the body), the real ali-ons 3.12 signing code's wire bytes verified by our
// validator, the address patterns, plain_acl.yml validation (file:line), the permission decision
// per request code, and the file re-read (a bad new file keeps the old rules).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AclFileError, loadAclFile, parseAclText } from '../../src/acl/acl-file.js';
import { AclService } from '../../src/acl/acl-service.js';
import { compileAddressPattern } from '../../src/acl/remote-address.js';
import { aclSigningHook, computeSignature, signedContent } from '../../src/acl/signature.js';
import { checkRequest } from '../../src/acl/validator.js';
import { RequestCode, ResponseCode } from '../../src/remoting/codes.js';
import { createRequest, type RemotingCommand } from '../../src/remoting/command.js';
import type { RemotingConnection } from '../../src/remoting/connection.js';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);

const RULES_TEXT = `globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress: 192.168.7.7
    admin: false
    defaultTopicPerm: PUB
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicC=SUB
    groupPerms:
      - groupA=DENY
  - accessKey: rocketmq2
    secretKey: 87654321
    admin: true
`;
const rules = parseAclText(RULES_TEXT, 'rules.yml');

function signed(code: number, extFields: Record<string, string | number>, body: Buffer | null, accessKey = 'RocketMQ', secretKey = '12345678'): RemotingCommand {
  return aclSigningHook({ accessKey, secretKey })(createRequest(code, { extFields, body }));
}

t.test('signature: fixed vectors of RocketMQ\'s algorithm', async (t) => {
  // Sorted names: AccessKey < a < b < c (UTF-16 order, upper case first); Signature left out.
  const fields = { b: 'TopicTest', a: 'PG', AccessKey: 'RocketMQ', Signature: 'ignored', c: 'TBW102' };
  const content = signedContent(fields, Buffer.from('hello'));
  t.equal(content.toString('utf8'), 'RocketMQPGTopicTestTBW102hello');
  t.equal(computeSignature(content, '12345678'), 'sfW1k0fY0HYPOizXVKtDofOhDQ4=');
  // ali-ons adds OnsChannel; clientID sorts before consumerGroup.
  const second = signedContent({ consumerGroup: 'CG_1', clientID: 'clientId@1', OnsChannel: 'ALIYUN', AccessKey: 'RocketMQ' }, null);
  t.equal(second.toString('utf8'), 'RocketMQALIYUNclientId@1CG_1');
  t.equal(computeSignature(second, '12345678'), '+fJcXjsKUdD5dR6PBSzA/ilLbrk=');
  const hooked = aclSigningHook({ accessKey: 'RocketMQ', secretKey: '12345678' })(createRequest(310, { extFields: { b: 'TopicTest', a: 'PG', c: 'TBW102' }, body: Buffer.from('hello') }));
  t.equal(hooked.extFields['AccessKey'], 'RocketMQ');
  t.equal(hooked.extFields['Signature'], 'sfW1k0fY0HYPOizXVKtDofOhDQ4=', 'our client hook signs the same bytes');
});

t.test('the real ali-ons signing code, on the wire, verifies; a changed byte or secret does not', async (t) => {
  const Channel = require('ali-ons/lib/channel') as { prototype: { beforeRequest(this: unknown, command: unknown): void } };
  const AliCommand = require('ali-ons/lib/protocol/command/remoting_command') as { createRequestCommand(code: number, header: Record<string, unknown>): { body: Buffer | null; encode(): Buffer } };
  const wire = (secretKey: string, body: string): RemotingCommand => {
    // ali-ons' own header types: numbers and booleans, as its producer sends them.
    const command = AliCommand.createRequestCommand(310, { a: 'PG', b: 'topicB', c: 'TBW102', d: 4, e: 1, f: 0, g: 1733000000000, h: 0, i: 'TAGS\u0001TagA\u0002', j: 0, k: false, l: 0, m: false });
    command.body = Buffer.from(body);
    Channel.prototype.beforeRequest.call({ accessKey: 'RocketMQ', secretKey, onsChannel: 'ALIYUN' }, command);
    const decoded = new RemotingFrameDecoder(1 << 20).push(command.encode());
    t.equal(decoded.length, 1);
    return decoded[0] as RemotingCommand;
  };
  const good = wire('12345678', 'payload');
  t.equal(good.extFields['OnsChannel'], 'ALIYUN', 'ali-ons adds OnsChannel');
  t.equal(checkRequest(rules, 'broker', good, '127.0.0.1'), null, 'accepted');
  const tampered = { ...good, body: Buffer.from('payloaD') };
  t.equal(checkRequest(rules, 'broker', tampered, '127.0.0.1')?.kind, 'bad-signature', 'a changed body fails');
  const retargeted = { ...good, extFields: { ...good.extFields, b: 'topicC' } };
  t.equal(checkRequest(rules, 'broker', retargeted, '127.0.0.1')?.kind, 'bad-signature', 'a changed topic fails');
  t.equal(checkRequest(rules, 'broker', wire('wrong-secret', 'payload'), '127.0.0.1')?.kind, 'bad-signature', 'a wrong secret fails');
});

t.test('address patterns', async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    ['192.168.0.*', ['192.168.0.0', '192.168.0.255'], ['192.168.1.1', '10.0.0.1']],
    ['192.168.*.*', ['192.168.9.9'], ['192.169.0.1']],
    ['192.168.1.1-100', ['192.168.1.1', '192.168.1.100'], ['192.168.1.0', '192.168.1.101']],
    ['192.168.1-5.*', ['192.168.1.0', '192.168.5.255'], ['192.168.6.0']],
    ['192.168.1.{1,2}', ['192.168.1.1', '192.168.1.2'], ['192.168.1.3', '192.168.1.12']],
    ['10.0.0.1,10.0.0.9', ['10.0.0.1', '10.0.0.9'], ['10.0.0.2']],
    ['127.0.0.1', ['127.0.0.1'], ['127.0.0.2']],
    ['::1', ['::1', '0:0:0:0:0:0:0:1'], ['127.0.0.1']],
    ['*', ['1.2.3.4', '::1'], []],
    ['*.*.*.*', ['8.8.8.8'], []],
    ['', [], ['127.0.0.1']],
  ];
  for (const [pattern, yes, no] of cases) {
    const matcher = compileAddressPattern(pattern);
    for (const host of yes) t.ok(matcher.matches(host), `${pattern} matches ${host}`);
    for (const host of no) t.notOk(matcher.matches(host), `${pattern} does not match ${host}`);
  }
  for (const bad of ['192.168.1.1-300', '192.168.1.5-1', '192.168.*.5', '*.1.1.1', '192.168.1', '192.168.1.x', 'fe80::*', '192.168.{1,2}.1', '192.168.1.{1,300}']) {
    t.throws(() => compileAddressPattern(bad), { name: 'AddressPatternError' }, `refused: ${bad}`);
  }
});

t.test('plain_acl.yml: the shipped example loads; problems are listed with file:line', async (t) => {
  const shipped = loadAclFile(path.join(ROOT, 'conf/plain_acl.yml'));
  t.equal(shipped.accounts.size, 2);
  t.equal(shipped.accounts.get('RocketMQ')?.secretKey, '12345678', 'a numeric-looking secret stays a string');
  t.equal(shipped.accounts.get('rocketmq2')?.admin, true);
  t.equal(shipped.accounts.get('RocketMQ')?.resourcePerms.get('%RETRY%groupB'), 12, 'groupB=PUB|SUB kept as its retry topic');
  t.equal(parseAclText('', 'empty.yml').accounts.size, 0, 'an empty file: no accounts');
  const bad = `globalWhiteRemoteAddresses:
  - 192.168.1.1-300
accounts:
  - accessKey: short
    secretKey: 12345678
  - accessKey: RocketMQ
    secretKey: 12345678
    defaultTopicPerm: PUBSUB
    topicPerms:
      - topicA
    admn: true
  - accessKey: twiceKey
    secretKey: 12345678
  - accessKey: twiceKey
    secretKey: 12345678
colour: blue
`;
  try {
    parseAclText(bad, 'bad.yml');
    t.fail('bad.yml must not load');
  } catch (error) {
    t.ok(error instanceof AclFileError);
    const problems = (error as AclFileError).problems.join('\n');
    t.match(problems, /bad\.yml:2: "192\.168\.1\.1-300"/);
    t.match(problems, /bad\.yml:4: accessKey is required and must be longer than 6/);
    t.match(problems, /bad\.yml:8: defaultTopicPerm "PUBSUB"/);
    t.match(problems, /bad\.yml:10: topicPerms entry "topicA"/);
    t.match(problems, /bad\.yml:11: unknown account key "admn"/);
    t.match(problems, /bad\.yml:14: accessKey "twiceKey" appears twice/);
    t.match(problems, /bad\.yml:16: unknown key "colour"/);
  }
  t.throws(() => parseAclText('accounts: [unclosed', 'syntax.yml'), /syntax\.yml:1: YAML/);
});

t.test('the decision per request code (broker mode)', async (t) => {
  const send = (topic: string, ak?: string, sk?: string): RemotingCommand => signed(RequestCode.SEND_MESSAGE_V2, { a: 'PG', b: topic }, Buffer.from('x'), ak, sk);
  t.equal(checkRequest(rules, 'broker', send('anyTopic'), '127.0.0.1'), null, 'defaultTopicPerm PUB allows a send');
  t.match(checkRequest(rules, 'broker', send('topicA'), '127.0.0.1'), { kind: 'no-permission', remark: /no permission for topic topicA: accessKey RocketMQ has DENY, needs PUB/ }, 'topicA=DENY overrides the default');
  t.match(checkRequest(rules, 'broker', send('topicC'), '127.0.0.1'), { kind: 'no-permission', remark: /topic topicC.*has SUB, needs PUB/ });
  t.match(checkRequest(rules, 'broker', createRequest(310, { extFields: { a: 'PG', b: 'x' } }), '127.0.0.1'), { kind: 'unsigned', remark: /unsigned request .*no AccessKey/ });
  t.equal(checkRequest(rules, 'broker', createRequest(310, { extFields: { a: 'PG', b: 'topicA' } }), '10.10.103.5'), null, 'a global white address passes unsigned, whatever the topic');
  t.match(checkRequest(rules, 'broker', send('x', 'NoSuchKey', '12345678'), '127.0.0.1'), { kind: 'unknown-access-key', remark: /unknown accessKey NoSuchKey/ });
  t.match(checkRequest(rules, 'broker', send('x', 'RocketMQ', 'wrongsecret'), '127.0.0.1'), { kind: 'bad-signature', remark: /bad signature for accessKey RocketMQ/ });
  const unsignedButKeyed = createRequest(310, { extFields: { a: 'PG', b: 'topicA', AccessKey: 'RocketMQ' } });
  t.equal(checkRequest(rules, 'broker', unsignedButKeyed, '192.168.7.7'), null, "the account's whiteRemoteAddress skips the signature (RocketMQ's rule)");
  t.equal(checkRequest(rules, 'broker', unsignedButKeyed, '192.168.7.8')?.kind, 'bad-signature', 'from elsewhere it does not');
  const createTopic = (ak: string, sk: string): RemotingCommand => signed(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'T', perm: 0 }, null, ak, sk);
  t.match(checkRequest(rules, 'broker', createTopic('RocketMQ', '12345678'), '127.0.0.1'), { kind: 'not-admin', remark: /request code 17 needs an admin account/ });
  t.equal(checkRequest(rules, 'broker', createTopic('rocketmq2', '87654321'), '127.0.0.1'), null, 'an admin may create topics');
  const offset = (group: string, topic: string): RemotingCommand => signed(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: 0, commitOffset: 5 }, null);
  t.equal(checkRequest(rules, 'broker', offset('groupB', 'topicC'), '127.0.0.1'), null, 'defaultGroupPerm SUB, topicC SUB');
  t.match(checkRequest(rules, 'broker', offset('groupA', 'topicC'), '127.0.0.1'), { kind: 'no-permission', remark: /no permission for group groupA/ });
  t.match(checkRequest(rules, 'broker', offset('groupB', 'topicA'), '127.0.0.1'), { remark: /topic topicA/ });
  const pull = signed(RequestCode.PULL_MESSAGE, { consumerGroup: 'groupA', topic: 'topicC', queueId: 0 }, null);
  t.match(checkRequest(rules, 'broker', pull, '127.0.0.1'), { remark: /group groupA/ }, 'a pull (which may carry a commit offset) needs the group');
  const heartbeat = signed(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify({ clientID: 'c', consumerDataSet: [{ groupName: 'groupB', subscriptionDataSet: [{ topic: 'topicA' }] }] })));
  t.match(checkRequest(rules, 'broker', heartbeat, '127.0.0.1'), { remark: /topic topicA.*needs SUB/ }, 'a heartbeat subscribing a denied topic');
  const sendBack = signed(RequestCode.CONSUMER_SEND_MSG_BACK, { group: 'groupA', originTopic: 'anyTopic', offset: 1 }, null);
  t.match(checkRequest(rules, 'broker', sendBack, '127.0.0.1'), { remark: /group groupA/ });
  t.equal(checkRequest(rules, 'broker', signed(RequestCode.GET_MAX_OFFSET, { topic: 'topicA', queueId: 0 }, null), '127.0.0.1'), null, 'other codes need only the signature');
  const batch = signed(RequestCode.SEND_BATCH_MESSAGE, { a: 'PG', b: 'topicA' }, Buffer.from('x'));
  t.match(checkRequest(rules, 'broker', batch, '127.0.0.1'), { remark: /topic topicA/ }, 'a batch send needs PUB too (beyond 4.9)');
});

t.test('the name server mode: writes need an admin signature, from anywhere; reads stay open', async (t) => {
  const register = (ak?: string, sk?: string): RemotingCommand => {
    const request = createRequest(RequestCode.REGISTER_BROKER, { extFields: { brokerName: 'b', brokerAddr: '1.2.3.4:1', clusterName: 'c', haServerAddr: 'x', brokerId: 0 }, body: Buffer.from('{}') });
    return ak === undefined ? request : aclSigningHook({ accessKey: ak, secretKey: sk as string })(request);
  };
  t.equal(checkRequest(rules, 'namesrv', register('rocketmq2', '87654321'), '127.0.0.1'), null);
  t.equal(checkRequest(rules, 'namesrv', register(), '10.10.103.5')?.kind, 'unsigned', 'the global whitelist does not apply');
  t.equal(checkRequest(rules, 'namesrv', register('RocketMQ', '12345678'), '192.168.7.7')?.kind, 'not-admin', 'nor does a non-admin account (even from its white address)');
  t.equal(checkRequest(rules, 'namesrv', register('rocketmq2', 'wrongwrong'), '127.0.0.1')?.kind, 'bad-signature');
  const unregister = createRequest(RequestCode.UNREGISTER_BROKER, { extFields: { brokerName: 'b', brokerAddr: '1.2.3.4:1', clusterName: 'c', brokerId: 0 } });
  t.equal(checkRequest(rules, 'namesrv', unregister, '127.0.0.1')?.kind, 'unsigned');
  t.equal(checkRequest(rules, 'namesrv', createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: 'x' } }), '127.0.0.1'), null, 'a route query needs nothing');
});

t.test('the file is re-read when it changes; a bad new file keeps the old rules', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'plain_acl.yml');
  fs.writeFileSync(file, RULES_TEXT);
  const lines: string[] = [];
  const service = new AclService({ file, mode: 'broker', log: (line) => lines.push(line), pollIntervalMs: 50 });
  t.teardown(() => service.close());
  service.watch();
  const connection = { remoteAddress: '127.0.0.1:5555' } as RemotingConnection;
  const request = createRequest(310, { extFields: { a: 'PG', b: 'x' } });
  t.match(service.authorize(request, connection), { code: ResponseCode.NO_PERMISSION, remark: /unsigned/ });
  const until = async (probe: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  fs.writeFileSync(file, RULES_TEXT.replace('10.10.103.*', '127.0.0.*'));
  await until(() => service.reloads === 1, 'the first re-read');
  t.equal(service.authorize(request, connection), null, 'the new whitelist is in force');
  fs.writeFileSync(file, `${RULES_TEXT}bogus: key\n`);
  await until(() => lines.some((line) => /does not load; keeping the rules in force/.test(line)), 'the bad file logged');
  t.match(lines.join('\n'), /unknown key "bogus"/, 'the log says why');
  t.equal(service.authorize(request, connection), null, 'the old rules stay');
  t.equal(service.reloads, 1);
  t.equal(service.refusals.get('unsigned'), 1, 'refusals are counted');
});

t.test('a change made between the load and the start of the watch is still seen', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-reload-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'plain_acl.yml');
  fs.writeFileSync(file, RULES_TEXT);
  const service = new AclService({ file, mode: 'broker', log: () => {}, pollIntervalMs: 50 });
  t.teardown(() => service.close());
  fs.writeFileSync(file, RULES_TEXT.replace('10.10.103.*', '127.0.0.*'));
  service.watch();
  const deadline = Date.now() + 10_000;
  while (service.reloads === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(service.reloads, 1, 'the file written before watch() is re-read');
  const connection = { remoteAddress: '127.0.0.1:5555' } as RemotingConnection;
  t.equal(service.authorize(createRequest(310, { extFields: { a: 'PG', b: 'x' } }), connection), null, 'its whitelist is in force');
});
