// Goal: bodies render as fastjson renders them (alphabetical bean fields, null fields omitted,
// Long-keyed maps with bare keys only when asked) and parseRocketMqJson reads both key forms
// without touching look-alikes inside strings, reporting malformed JSON as RocketMqJsonError.
// Method: fixed inputs with expected texts.
import t from 'tap';
import { parseRocketMqJson, RocketMqJsonError, toFastjson } from '../../src/remoting/fastjson.js';

t.test('toFastjson: key order, nulls, Long-keyed maps', async (t) => {
  const value = { zeta: 1, alpha: 'a', nothing: null, skipped: undefined, addrs: new Map([[2, 'c'], [0, 'a'], [1, 'b']]), list: [true, 1.5, 'x'] };
  t.equal(toFastjson(value, { bareNumericKeys: false }), '{"addrs":{"0":"a","1":"b","2":"c"},"alpha":"a","list":[true,1.5,"x"],"zeta":1}');
  t.equal(toFastjson(value, { bareNumericKeys: true }), '{"addrs":{0:"a",1:"b",2:"c"},"alpha":"a","list":[true,1.5,"x"],"zeta":1}');
  t.equal(toFastjson({ m: new Map([['k', 1]]) }, { bareNumericKeys: true }), '{"m":{"k":1}}', 'string-keyed Maps stay quoted');
  t.equal(toFastjson({ s: 'quote " and \\ and \u0001' }, { bareNumericKeys: false }), JSON.stringify({ s: 'quote " and \\ and \u0001' }));
});

t.test('parseRocketMqJson reads bare and quoted keys and leaves strings alone', async (t) => {
  t.same(parseRocketMqJson('{"brokerAddrs":{0:"h:1", 1 : "h:2",-1:"x"}}'), { brokerAddrs: { 0: 'h:1', 1: 'h:2', '-1': 'x' } });
  t.same(parseRocketMqJson('{"brokerAddrs":{"0":"h:1"}}'), { brokerAddrs: { 0: 'h:1' } });
  t.same(parseRocketMqJson('{"s":"{0:\\"not a key\\", 1:"}'), { s: '{0:"not a key", 1:' }, 'look-alikes inside strings are untouched');
  t.same(parseRocketMqJson('[1,2,{3:4}]'), [1, 2, { 3: 4 }]);
  t.throws(() => parseRocketMqJson('{0:'), RocketMqJsonError);
  t.throws(() => parseRocketMqJson('{a:1}'), RocketMqJsonError, 'only integer keys may be bare');
});
