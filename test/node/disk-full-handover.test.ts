// Goal: DiskFullHandover (src/node/disk-full-handover.ts) tries the followers most caught up first,
// one at a time, stops at the first that takes over, stops trying once the disk has space again or
// this member no longer leads, and after a round where nobody took over waits retryAfterMs before
// the next; one round at a time however often it is poked.
// Method: a fake target with a manual clock; transfers resolve or reject as scripted.
import t from 'tap';
import { DiskFullHandover, type HandoverTarget } from '../../src/node/disk-full-handover.js';

function target(refuse: Set<string>, state: { full: boolean; leads: boolean; nowMs: number }, calls: string[], lines: string[]): HandoverTarget {
  return {
    selfId: 'n0',
    leadsWithFullDisk: () => state.full && state.leads,
    followers: () => [{ id: 'n1', match: 5 }, { id: 'n2', match: 9 }, { id: 'n3', match: 9 }],
    transfer: async (to) => {
      calls.push(to);
      await Promise.resolve();
      if (refuse.has(to)) throw new Error(`${to} did not take leadership within 10 ms`);
      state.leads = false;
    },
    nowMs: () => state.nowMs,
    log: (line) => lines.push(line),
  };
}
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('most caught up first; the first that takes over ends the round', async (t) => {
  const state = { full: true, leads: true, nowMs: 0 };
  const calls: string[] = [];
  const lines: string[] = [];
  const handover = new DiskFullHandover(target(new Set(['n2']), state, calls, lines), 1000);
  handover.poke();
  handover.poke(); // one round at a time
  await settle();
  t.same(calls, ['n2', 'n3'], 'n2 and n3 (match 9) before n1 (match 5); n2 refused, n3 took over');
  t.same(handover.stats(), { rounds: 1, handedOver: 1 });
  t.match(lines.join('\n'), /handing leadership to n2 \(match 9\)[\s\S]*n3 leads now/);
  handover.poke();
  await settle();
  t.equal(calls.length, 2, 'no longer leading: no new round');
});

t.test('nobody takes over: still leading, next round only after retryAfterMs', async (t) => {
  const state = { full: true, leads: true, nowMs: 0 };
  const calls: string[] = [];
  const lines: string[] = [];
  const handover = new DiskFullHandover(target(new Set(['n1', 'n2', 'n3']), state, calls, lines), 1000);
  handover.poke();
  await settle();
  t.same(calls, ['n2', 'n3', 'n1']);
  t.match(lines.at(-1), /no follower took leadership \(n2: .*; n3: .*; n1: .*\); still leading and refusing appends, next try in 1000 ms/);
  state.nowMs = 999;
  handover.poke();
  await settle();
  t.equal(calls.length, 3, 'not before retryAfterMs');
  state.nowMs = 1000;
  handover.poke();
  await settle();
  t.equal(calls.length, 6, 'a second round after it');
  t.same(handover.stats(), { rounds: 2, handedOver: 0 });
});

t.test('space returns mid-round: the round stops; a member with space never starts one', async (t) => {
  const state = { full: true, leads: true, nowMs: 0 };
  const calls: string[] = [];
  const refuse = new Set(['n1', 'n2', 'n3']);
  const base = target(refuse, state, calls, []);
  const handover = new DiskFullHandover({ ...base, transfer: async (to) => { await base.transfer(to).catch((error: unknown) => { state.full = false; throw error; }); } }, 1000);
  handover.poke();
  await settle();
  t.same(calls, ['n2'], 'after the first refusal the disk has space: no further transfer');
  const idle = new DiskFullHandover(target(new Set(), { full: false, leads: true, nowMs: 0 }, calls, []), 1000);
  idle.poke();
  await settle();
  t.same(idle.stats(), { rounds: 0, handedOver: 0 });
});
