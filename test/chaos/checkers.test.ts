// Goal: prove each checker bites. Method: a small hand-made history and three member logs that
// pass, then one mutation per violation kind (a lost ack, a moved ack, a duplicate, a phantom, a
// non-empty NOOP, a divergent committed entry, a failed append present), each of which must be
// reported — and the legal cases (an unknown append present once or absent, an uncommitted
// divergent tail) must not be.
// Also exercises the link proxy's faults on a local echo server.
import t from 'tap';
import net from 'node:net';
import { checkLogs, type LogEntry, type MemberLog } from './checkers.js';
import type { AppendOp, History } from './history.js';
import { LinkProxy } from './proxy.js';
import { freePorts } from '../cluster/helpers.js';

const ok = (client: number, value: string, index: number, term: number, pos: number): AppendOp => ({ client, value, invokeMs: 0, completeMs: 1, outcome: { type: 'ok', index, term, pos } });
const unknown = (client: number, value: string): AppendOp => ({ client, value, invokeMs: 0, completeMs: 1, outcome: { type: 'unknown', error: 'timeout' } });
const failed = (client: number, value: string): AppendOp => ({ client, value, invokeMs: 0, completeMs: 1, outcome: { type: 'fail', error: 'not sent: connect ECONNREFUSED' } });
const entry = (index: number, term: number, body: string, magic = 1): LogEntry => ({ index, term, pos: index * 100, magic, body });

function baseline(): { history: History; logs: MemberLog[] } {
  const history: History = { ops: [ok(0, 'c0-0', 1, 1, 100), ok(1, 'c1-0', 2, 1, 200), unknown(0, 'c0-1'), unknown(1, 'c1-1')] };
  const entries = [entry(0, 1, '', 2), entry(1, 1, 'c0-0'), entry(2, 1, 'c1-0'), entry(3, 1, 'c0-1')];
  return { history, logs: ['n0', 'n1', 'n2'].map((id) => ({ id, firstIndex: 0, entries: [...entries] })) };
}

t.test('a clean history passes; unknown appends may be present once or absent', async (t) => {
  const { history, logs } = baseline();
  const result = checkLogs(history, logs, 3);
  t.same(result.violations, []);
  t.equal(result.acknowledged, 2);
  t.equal(result.unacknowledgedPresent, 1);
});

t.test('an uncommitted tail may differ between members', async (t) => {
  const { history, logs } = baseline();
  logs[2] = { ...logs[2]!, entries: [...logs[2]!.entries.slice(0, 3), entry(3, 2, 'c1-1')] };
  t.same(checkLogs(history, logs, 2).violations, []);
  t.match(checkLogs(history, logs, 3).violations.join('\n'), /divergence: index 3/);
});

t.test('entries a member deleted by retention are not lost there, but a hole above its log start is', async (t) => {
  const { history, logs } = baseline();
  // n2's retention deleted indexes 0-1: its log starts at 2.
  logs[2] = { ...logs[2]!, firstIndex: 2, entries: logs[2]!.entries.filter((e) => e.index >= 2) };
  t.same(checkLogs(history, logs, 3).violations, [], 'c0-0 (index 1) below n2\'s log start is not lost');
  logs[2] = { ...logs[2]!, entries: logs[2]!.entries.filter((e) => e.index !== 2) };
  t.match(checkLogs(history, logs, 3).violations.join('\n'), /lost: c1-0 acknowledged at index 2 .* missing on n2/, 'at its log start it is');
});

t.test('with a retention bound: expired everywhere counts, too young or past the commit is a violation', async (t) => {
  const { history, logs } = baseline();
  // Every member's retention deleted indexes 0-1: c0-0 (index 1, invoked at 0 ms) is expired everywhere.
  for (let i = 0; i < 3; i++) logs[i] = { ...logs[i]!, firstIndex: 2, entries: logs[i]!.entries.filter((e) => e.index >= 2) };
  const old = checkLogs(history, logs, 3, { reservedMs: 2000, checkedAtMs: 5000, slackMs: 100 });
  t.same(old.violations, [], 'appended 5 s before the check, 2 s reserved: deleted by retention');
  t.equal(old.expired, 1, 'counted as expired, not lost');
  t.equal(old.lost, 0);
  const young = checkLogs(history, logs, 3, { reservedMs: 2000, checkedAtMs: 1500, slackMs: 100 });
  t.equal(young.violations.length, 3, 'one per member');
  t.match(young.violations.join('\n'), /retention: c0-0 acknowledged at index 1 is below n0's log start 2, but was appended only 1500 ms before the check \(reserved 2000 ms\)/, 'appended 1.5 s before the check: deleted too early');
  const forced = checkLogs(history, logs, 3, { reservedMs: 2000, checkedAtMs: 1500, slackMs: 100, forcedOn: new Set(['n0', 'n1', 'n2']) });
  t.same(forced.violations, [], 'a member that cleaned forcibly may delete unexpired segments');
  t.same(checkLogs(history, logs, 3).violations, [], 'without a bound: skipped, as before');
  t.equal(checkLogs(history, logs, 3).expired, 1);
  // n1 alone deleted index 2 as well: c1-0 is checked on n0 and n2.
  logs[1] = { ...logs[1]!, firstIndex: 3, entries: logs[1]!.entries.filter((e) => e.index >= 3) };
  const some = checkLogs(history, logs, 3, { reservedMs: 2000, checkedAtMs: 5000, slackMs: 100 });
  t.same(some.violations, []);
  t.equal(some.expiredOnSome, 1, 'below one member\'s start, checked on the others');
  logs[0] = { ...logs[0]!, entries: logs[0]!.entries.filter((e) => e.index !== 2) };
  t.match(checkLogs(history, logs, 3, { reservedMs: 2000, checkedAtMs: 5000, slackMs: 100 }).violations.join('\n'), /lost: c1-0 .* missing on n0/, 'a hole on a member that retains the index is lost');
  const past = baseline();
  past.logs[0] = { ...past.logs[0]!, firstIndex: 4, entries: [] };
  t.match(checkLogs(past.history, past.logs, 2, { reservedMs: 0, checkedAtMs: 5000, slackMs: 0 }).violations.join('\n'), /retention: n0's log starts at 4, past the committed end 2/, 'a log start past the committed end');
});

t.test('members are compared pairwise from where both retain entries', async (t) => {
  const { history, logs } = baseline();
  // n0 and n1 start at 2; n2 at 0 and differs from n1 at index 1 (below n0/n1's start): nothing to compare there.
  logs[0] = { ...logs[0]!, firstIndex: 2, entries: logs[0]!.entries.filter((e) => e.index >= 2) };
  t.same(checkLogs(history, logs, 3).violations, []);
  logs[2] = { ...logs[2]!, entries: logs[2]!.entries.map((e) => (e.index === 0 ? { ...e, term: 9 } : e)) };
  t.match(checkLogs(history, logs, 3).violations.join('\n'), /divergence: index 0: n1 has term 1/, 'n1 and n2 both retain index 0: compared (the old check started at the largest log start, 2)');
});

t.test('each violation kind is reported', async (t) => {
  const cases: [string, (logs: MemberLog[]) => void, RegExp][] = [
    ['lost ack', (logs) => { logs[1] = { ...logs[1]!, entries: logs[1]!.entries.filter((e) => e.index !== 2) }; }, /lost: c1-0 acknowledged at index 2 .* missing on n1/],
    ['moved ack', (logs) => { logs[0] = { ...logs[0]!, entries: logs[0]!.entries.map((e) => (e.index === 1 ? { ...e, term: 2 } : e)) }; }, /moved: c0-0 acknowledged at index 1 term 1/],
    ['duplicate', (logs) => { logs[2] = { ...logs[2]!, entries: [...logs[2]!.entries, entry(4, 1, 'c0-1')] }; }, /duplicate: c0-1 \(client outcome unknown\) appears 2 times on n2/],
    ['phantom', (logs) => { logs[0] = { ...logs[0]!, entries: [...logs[0]!.entries, entry(4, 1, 'nobody')] }; }, /phantom: n0 index 4: "nobody" was never appended/],
    ['non-empty noop', (logs) => { logs[0] = { ...logs[0]!, entries: logs[0]!.entries.map((e) => (e.index === 0 ? { ...e, body: 'x' } : e)) }; }, /phantom: n0 index 0: NOOP entry/],
    ['divergence', (logs) => { logs[2] = { ...logs[2]!, entries: logs[2]!.entries.map((e) => (e.index === 3 ? { ...e, pos: 999 } : e)) }; }, /divergence: index 3/],
  ];
  for (const [name, mutate, expected] of cases) {
    const { history, logs } = baseline();
    mutate(logs);
    const result = checkLogs(history, logs, 3);
    t.match(result.violations.join('\n'), expected, name);
    t.ok(result.violations.length > 0, `${name}: at least one violation`);
  }
  const { history, logs } = baseline();
  logs[1] = { ...logs[1]!, entries: logs[1]!.entries.filter((e) => e.index !== 2) };
  t.equal(checkLogs(history, logs, 1).lost, 1, 'lost counts the missing acknowledged append');
});

t.test('a failed append must be absent from every log, committed or not', async (t) => {
  const { history, logs } = baseline();
  history.ops.push(failed(2, 'c2-0'), failed(2, 'c2-1'));
  const clean = checkLogs(history, logs, 3);
  t.same(clean.violations, [], 'absent failed appends are fine');
  t.equal(clean.refusedPresent, 0);
  // c2-0 in n1's uncommitted tail only: still a violation (the append was never sent or refused).
  logs[1] = { ...logs[1]!, entries: [...logs[1]!.entries, entry(4, 2, 'c2-0')] };
  const result = checkLogs(history, logs, 3);
  t.match(result.violations.join('\n'), /refused-present: c2-0 failed \(not sent: connect ECONNREFUSED\) yet n1 holds it at index 4/);
  t.equal(result.refusedPresent, 1);
  t.equal(result.violations.length, 1, 'nothing else is reported');
  // An unknown append in the same place is legal.
  const unknownHistory = { ops: history.ops.map((op) => (op.value === 'c2-0' ? unknown(2, 'c2-0') : op)) };
  t.same(checkLogs(unknownHistory, logs, 3).violations, []);
});

t.test('link proxy: pass, delay, drop, cut', async (t) => {
  const [echoPort, proxyPort] = await freePorts(2);
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(echoPort, '127.0.0.1', resolve));
  const proxy = new LinkProxy('test', proxyPort!, echoPort!, 1024);
  await proxy.start();
  t.teardown(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });
  const connect = async (): Promise<net.Socket> => {
    const socket = net.connect(proxyPort!, '127.0.0.1');
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    return socket;
  };
  const roundTrip = (socket: net.Socket, text: string, timeoutMs: number): Promise<string | null> => new Promise((resolve) => {
    let got = '';
    const timer = setTimeout(() => { socket.off('data', onData); resolve(null); }, timeoutMs);
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.length >= text.length) { clearTimeout(timer); socket.off('data', onData); resolve(got); }
    };
    socket.on('data', onData);
    socket.write(text);
  });
  const socket = await connect();
  t.equal(await roundTrip(socket, 'hello', 1000), 'hello', 'pass forwards');
  proxy.setFault({ kind: 'delay', ms: 150 });
  const started = Date.now();
  t.equal(await roundTrip(socket, 'slow', 2000), 'slow', 'delay forwards');
  t.ok(Date.now() - started >= 280, `delay applies to both directions (${Date.now() - started} ms)`);
  proxy.setFault({ kind: 'drop' });
  t.equal(await roundTrip(socket, 'lost', 300), null, 'drop discards');
  t.ok(proxy.stats.bytesDropped >= 4);
  proxy.setFault({ kind: 'pass' });
  t.equal(await roundTrip(socket, 'again', 1000), 'again', 'pass again on the same connection');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  proxy.setFault({ kind: 'cut' });
  await closed;
  t.pass('cut closes open connections');
  const refused = net.connect(proxyPort!, '127.0.0.1');
  await new Promise((resolve) => { refused.once('close', resolve); refused.once('error', () => undefined); });
  t.ok(proxy.stats.refused >= 1, 'cut refuses new connections');
  proxy.setFault({ kind: 'pass' });
  const big = await connect();
  big.on('error', () => undefined);
  proxy.setFault({ kind: 'delay', ms: 500 });
  const overflowClosed = new Promise((resolve) => big.once('close', resolve));
  big.write(Buffer.alloc(4096));
  await overflowClosed;
  t.equal(proxy.stats.overflowCloses, 1, 'a connection over the buffer bound is closed');
  t.throws(() => proxy.setFault({ kind: 'delay', ms: -1 }));
});
