// Goal: the admin codes of issue 14 under ACL: DELETE_TOPIC_IN_BROKER, UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
// DELETE_SUBSCRIPTIONGROUP (RocketMQ's Permission.ADMIN_CODE), INVOKE_BROKER_TO_RESET_OFFSET and our
// DLEDGER_TRANSFER_LEADERSHIP need an admin account on a broker; the name server's
// DELETE_TOPIC_IN_NAMESRV needs an admin signature like REGISTER_BROKER; reads (topic stats,
// connections, locks) need a valid signature only, as in RocketMQ.
import t from 'tap';
import { parseAclText } from '../../src/acl/acl-file.js';
import { aclSigningHook } from '../../src/acl/signature.js';
import { checkRequest } from '../../src/acl/validator.js';
import { RequestCode } from '../../src/remoting/codes.js';
import { createRequest } from '../../src/remoting/command.js';

const rules = parseAclText(`accounts:
  - accessKey: appUser
    secretKey: appSecret1
    admin: false
    defaultTopicPerm: PUB|SUB
    defaultGroupPerm: SUB
  - accessKey: adminUser
    secretKey: adminSecret1
    admin: true
`, 'rules.yml');
const signed = (code: number, extFields: Record<string, string>, accessKey: string, secretKey: string) => aclSigningHook({ accessKey, secretKey })(createRequest(code, { extFields }));

t.test('broker: admin-only writes, signed reads', async (t) => {
  const writes: Array<[number, Record<string, string>]> = [
    [RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'T' }],
    [RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}],
    [RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName: 'G' }],
    [RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, { topic: 'T', group: 'G', timestamp: '0', isForce: 'true' }],
    [RequestCode.DLEDGER_TRANSFER_LEADERSHIP, { transferee: 'n1' }],
  ];
  for (const [code, ext] of writes) {
    t.match(checkRequest(rules, 'broker', signed(code, ext, 'appUser', 'appSecret1'), '127.0.0.1'), { kind: 'not-admin', remark: new RegExp(`request code ${code} needs an admin account`) }, `${code}: refused for a non-admin`);
    t.equal(checkRequest(rules, 'broker', signed(code, ext, 'adminUser', 'adminSecret1'), '127.0.0.1'), null, `${code}: allowed for an admin`);
    t.equal(checkRequest(rules, 'broker', createRequest(code, { extFields: ext }), '127.0.0.1')?.kind, 'unsigned', `${code}: refused unsigned`);
  }
  for (const code of [RequestCode.GET_TOPIC_STATS_INFO, RequestCode.GET_CONSUMER_CONNECTION_LIST, RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ]) {
    t.equal(checkRequest(rules, 'broker', signed(code, { topic: 'T', consumerGroup: 'G' }, 'appUser', 'appSecret1'), '127.0.0.1'), null, `${code}: a signed non-admin request passes`);
    t.equal(checkRequest(rules, 'broker', createRequest(code, { extFields: { topic: 'T' } }), '127.0.0.1')?.kind, 'unsigned', `${code}: unsigned refused`);
  }
});

t.test('name server: DELETE_TOPIC_IN_NAMESRV needs an admin signature', async (t) => {
  t.equal(checkRequest(rules, 'namesrv', createRequest(RequestCode.DELETE_TOPIC_IN_NAMESRV, { extFields: { topic: 'T' } }), '127.0.0.1')?.kind, 'unsigned');
  t.equal(checkRequest(rules, 'namesrv', signed(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'T' }, 'appUser', 'appSecret1'), '127.0.0.1')?.kind, 'not-admin');
  t.equal(checkRequest(rules, 'namesrv', signed(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'T' }, 'adminUser', 'adminSecret1'), '127.0.0.1'), null);
  t.equal(checkRequest(rules, 'namesrv', createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { extFields: { topic: 'T' } }), '127.0.0.1'), null, 'reads stay open');
});
