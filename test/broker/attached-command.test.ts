// Goal: the POP dead-letter move is one Raft entry applied atomically (src/broker/state/
// attached-command.ts): the %DLQ%<group> message carries the `ack dlq` of the receipt it ends, and
// BrokerState.apply of that one entry both indexes the message and removes the receipt; a log cut
// after any entry (a crash, a replay on restart) never holds one without the other, and neither
// does a member rebuilding from a compacted log (the attached command is held until the state
// checkpoint like a command entry). The old two-entry form (message, then an ack command) is
// replayed too, to show the check sees its half state. Only the broker attaches commands: a
// producer's property of that name is dropped before storing.
// Method: hand-built entries fed to BrokerState with the POP extension registered (no group).
import t from 'tap';
import { encodeMessage, formatMessageProperties, parseMessageProperties, patchPhysicalOffset } from '../../src/broker/message-codec.js';
import { ATTACHED_COMMAND_PROPERTY, attachedCommandOf, propertiesToStore } from '../../src/broker/state/attached-command.js';
import { BrokerState } from '../../src/broker/state/broker-state.js';
import { type BrokerCommand, encodeCommand } from '../../src/broker/state/commands.js';
import { PERM_READ_WRITE } from '../../src/broker/state/topic-config.js';
import { POP_EXTENSION, popCommandBody, PopState, type PopCommand, type Receipt } from '../../src/grpc/pop-state.js';

const host = { ip: Uint8Array.of(127, 0, 0, 1), port: 30911 };
const receipt: Receipt = { topic: 'T', queueId: 0, offset: 0, attempt: 3, visibleAtMs: 4000 };
const popCommand = (command: PopCommand): BrokerCommand => ({ type: 'extension', extension: POP_EXTENSION, body: popCommandBody(command) });
const topic = (name: string): BrokerCommand => ({ type: 'upsertTopic', topic: { topicName: name, readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
const dlqAck = popCommand({ op: 'ack', group: 'G', receipts: [receipt], dlq: true });

function message(topicName: string, queueOffset: number, properties: string): Uint8Array {
  return encodeMessage({
    topic: topicName, queueId: 0, flag: 0, queueOffset, physicalOffset: 0, sysFlag: 0, bornTimestampMs: 1, bornHost: host,
    storeTimestampMs: 2, storeHost: host, reconsumeTimes: 3, preparedTransactionOffset: 0, body: new TextEncoder().encode(`m-${topicName}-${queueOffset}`), properties,
  });
}

/** The log up to a message of T delivered 3 times and due again (offset 0, attempt 3, visible at 4000). */
function prefix(): Uint8Array[] {
  const entries = [encodeCommand(topic('T'), host, 1), encodeCommand(topic('%DLQ%G'), host, 1), message('T', 0, '')];
  entries.push(encodeCommand(popCommand({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 0, to: 1, offsets: [0], revive: [], atMs: 1000, invisibleMs: 1000 }), host, 1));
  entries.push(encodeCommand(popCommand({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 1, to: 1, offsets: [], revive: [[0, 1]], atMs: 2000, invisibleMs: 1000 }), host, 1));
  entries.push(encodeCommand(popCommand({ op: 'pop', group: 'G', topic: 'T', queueId: 0, from: 1, to: 1, offsets: [], revive: [[0, 2]], atMs: 3000, invisibleMs: 1000 }), host, 1));
  return entries;
}

const atomicDlq = (): Uint8Array => message('%DLQ%G', 0, propertiesToStore(formatMessageProperties([['RETRY_TOPIC', 'T']]), dlqAck));

interface Member { readonly state: BrokerState; readonly pop: PopState; readonly lines: string[] }

function member(): Member {
  const lines: string[] = [];
  const state = new BrokerState((line) => lines.push(line));
  const pop = new PopState((line) => lines.push(line));
  state.registerExtension(POP_EXTENSION, pop);
  return { state, pop, lines };
}

function replay(entries: readonly Uint8Array[], firstIndex = 0, m: Member = member()): Member {
  if (firstIndex > 0) m.state.beginFromCompactedLog(firstIndex);
  let pos = 0;
  entries.forEach((body, i) => {
    if (i < firstIndex) return;
    const copy = Uint8Array.from(body);
    patchPhysicalOffset(copy, pos + 48);
    pos += copy.length + 48;
    m.state.apply({ index: i, term: 1, body: copy });
  });
  return m;
}

/** 'both' (in the DLQ, receipt gone), 'neither' (still in flight, not in the DLQ) or a half state. */
function outcome(m: Member): string {
  const inDlq = m.state.maxOffset('%DLQ%G', 0) === 1;
  const inFlight = m.pop.current('G', receipt) !== null;
  return inDlq && !inFlight ? 'both' : !inDlq && inFlight ? 'neither' : `half: ${inDlq ? 'in the DLQ and still in flight' : 'neither in the DLQ nor in flight'}`;
}

t.test('one entry: applying it both stores the DLQ message and removes the receipt', async (t) => {
  const before = replay(prefix());
  t.equal(outcome(before), 'neither', 'before the entry: in flight (attempt 3), not in the DLQ');
  const after = replay([...prefix(), atomicDlq()]);
  t.equal(outcome(after), 'both', 'after it: in %DLQ%G and no longer in flight');
  t.equal(after.pop.stats.deadLettered, 1, 'counted as dead-lettered');
  t.equal(after.pop.inflightOf('G'), 0);
  t.equal(after.state.consumerOffset('G', 'T', 0), 1, "and the group's offset moved past it");
  t.equal(after.state.stats.commands, 5, 'the DLQ move is no command entry of its own');
  t.same(after.lines, [], 'nothing skipped or ignored');
});

t.test('a crash after any entry, replayed: never half a DLQ move', async (t) => {
  const atomic = [...prefix(), atomicDlq(), encodeCommand(popCommand({ op: 'ack', group: 'G', receipts: [receipt], dlq: false }), host, 1)];
  const seen = new Set<string>();
  // From the last pop on (before it the message was never in flight with that handle).
  for (let cut = prefix().length; cut <= atomic.length; cut++) {
    const got = outcome(replay(atomic.slice(0, cut)));
    seen.add(got);
    t.notMatch(got, /^half/, `log cut after ${cut} entries: ${got}`);
  }
  t.same([...seen], ['neither', 'both'], 'before the entry neither, from it on both (a late ack of the old handle changes nothing)');
  // The old form: the DLQ message, then the ack in a second entry. Cut between them: half.
  const twoEntries = [...prefix(), message('%DLQ%G', 0, ''), encodeCommand(dlqAck, host, 1)];
  t.equal(outcome(replay(twoEntries.slice(0, -1))), 'half: in the DLQ and still in flight', 'the two-entry form cut between its entries holds half a move (it would be moved twice)');
  t.equal(outcome(replay(twoEntries)), 'both');
});

t.test('rebuilt from a compacted log: the attached ack is held until the checkpoint', async (t) => {
  // Checkpoint captured after the prefix (receipt in flight), written after the DLQ entry; the log kept starts at the DLQ entry.
  const base = replay(prefix());
  const checkpoint = base.state.checkpoint();
  const entries = [...prefix(), atomicDlq(), encodeCommand(checkpoint, host, 1)];
  const rebuilt = replay(entries, prefix().length);
  t.equal(outcome(rebuilt), 'both', 'the checkpoint restores the receipt in flight, then the held attached ack removes it');
  const full = replay(entries);
  t.same(rebuilt.pop.snapshot(), full.pop.snapshot(), 'the same POP state as a member with the whole log');
  t.equal(rebuilt.state.consumerOffset('G', 'T', 0), full.state.consumerOffset('G', 'T', 0), 'and the same offsets');
});

t.test('only the broker attaches commands', async (t) => {
  const hostile = formatMessageProperties([['KEYS', 'k'], [ATTACHED_COMMAND_PROPERTY, JSON.stringify(dlqAck)]]);
  const stored = parseMessageProperties(propertiesToStore(hostile, undefined));
  t.equal(stored.get(ATTACHED_COMMAND_PROPERTY), undefined, "a client's property of that name is dropped");
  t.equal(stored.get('KEYS'), 'k', 'the others are kept');
  t.equal(propertiesToStore('KEYS\u0001k\u0002', undefined), 'KEYS\u0001k\u0002', 'properties without it are stored as they are');
  t.throws(() => propertiesToStore('', topic('X')), /only extension commands/, 'only extension commands may be attached');
  t.match(attachedCommandOf(new Map([[ATTACHED_COMMAND_PROPERTY, JSON.stringify(topic('X'))]])), /refused/, 'an attached topic command is refused when applied');
  t.match(attachedCommandOf(new Map([[ATTACHED_COMMAND_PROPERTY, '{nope']])), /not UTF-8 JSON/, 'a malformed one is named');
  // Applied: the message is indexed, a refused attachment ignored and logged.
  const m = replay([encodeCommand(topic('T'), host, 1), message('T', 0, formatMessageProperties([[ATTACHED_COMMAND_PROPERTY, JSON.stringify(topic('Y'))]]))]);
  t.equal(m.state.maxOffset('T', 0), 1, 'the message is indexed');
  t.equal(m.state.topicConfig('Y'), null, 'its attached topic command is not applied');
  t.match(m.lines.join('\n'), /attached upsertTopic command refused/);
});
