// Goal: the members' gRPC endpoints are replicated state like topics: `{type: 'extension'}`
// commands applied in log order, invalid ones ignored the same way everywhere, and kept across a
// state checkpoint, so a member rebuilt from a compacted log still routes clients to the master.
import t from 'tap';
import { BrokerState } from '../../src/broker/state/broker-state.js';
import { decodeCommand, encodeCommand } from '../../src/broker/state/commands.js';
import { decodeMessage } from '../../src/broker/message-codec.js';
import { MEMBER_ENDPOINTS_EXTENSION, MemberEndpoints } from '../../src/grpc/member-endpoints.js';

const host = { ip: Uint8Array.of(127, 0, 0, 1), port: 30911 };
const announce = (memberId: string, endpoint: string): Uint8Array => encodeCommand({ type: 'extension', extension: MEMBER_ENDPOINTS_EXTENSION, body: { memberId, endpoint } }, host, 1);

t.test('applied in order, bad bodies ignored, restored from a checkpoint', async (t) => {
  const lines: string[] = [];
  const endpoints = new MemberEndpoints((line) => lines.push(line));
  const state = new BrokerState((line) => lines.push(line));
  state.registerExtension(MEMBER_ENDPOINTS_EXTENSION, endpoints);
  t.throws(() => state.registerExtension(MEMBER_ENDPOINTS_EXTENSION, endpoints), 'one name once');
  let index = 0;
  const apply = (body: Uint8Array) => state.apply({ index: index++, term: 1, body });
  t.match(apply(announce('n0', '10.0.0.1:8081')), { kind: 'command' });
  apply(announce('n1', '10.0.0.2:8082'));
  apply(announce('n0', '10.0.0.1:9081'));
  apply(encodeCommand({ type: 'extension', extension: MEMBER_ENDPOINTS_EXTENSION, body: { memberId: 'n2', endpoint: 'evil host:1' } }, host, 1));
  apply(encodeCommand({ type: 'extension', extension: 'somethingElse', body: 1 }, host, 1));
  t.equal(endpoints.endpointOf('n0'), '10.0.0.1:9081', 'the later announcement wins');
  t.equal(endpoints.endpointOf('n1'), '10.0.0.2:8082');
  t.equal(endpoints.endpointOf('n2'), null, 'a malformed endpoint is ignored');
  t.match(lines.join('\n'), /ignored \(not \{memberId, endpoint\}\)/);
  t.match(lines.join('\n'), /unknown extension somethingElse ignored/);

  // The checkpoint carries the extension's snapshot; a member that starts from a later log start restores it.
  const checkpointBytes = encodeCommand(state.checkpoint(), host, 2);
  const parsed = decodeCommand(decodeMessage(checkpointBytes).body);
  t.same(parsed.type === 'stateCheckpoint' ? parsed.extensions?.[MEMBER_ENDPOINTS_EXTENSION] : null, [['n0', '10.0.0.1:9081'], ['n1', '10.0.0.2:8082']]);
  const restoredEndpoints = new MemberEndpoints();
  const restored = new BrokerState();
  restored.registerExtension(MEMBER_ENDPOINTS_EXTENSION, restoredEndpoints);
  restored.beginFromCompactedLog(100);
  restored.apply({ index: 100, term: 2, body: announce('n2', '10.0.0.3:8083') });
  t.equal(restoredEndpoints.endpointOf('n2'), null, 'held until the checkpoint');
  restored.apply({ index: 101, term: 2, body: checkpointBytes });
  t.equal(restoredEndpoints.endpointOf('n0'), '10.0.0.1:9081', 'restored from the checkpoint');
  t.equal(restoredEndpoints.endpointOf('n2'), '10.0.0.3:8083', 'and the command held after the capture point applied on top');
});
