// Goal: the violation list shared by the chaos checkers keeps exact counts per kind and at most
// maxMessagesPerKind strings a kind plus one "more not shown", without hiding other kinds.
import t from 'tap';
import { MAX_MESSAGES_PER_KIND, Violations } from './violations.js';

t.test('bounded per kind, counts exact, kinds independent', async (t) => {
  const found = new Violations();
  for (let i = 0; i < MAX_MESSAGES_PER_KIND + 5; i++) found.violate('lost', `m${i}`);
  found.violate('phantom', 'p');
  t.equal(found.count('lost'), MAX_MESSAGES_PER_KIND + 5);
  t.equal(found.count('phantom'), 1);
  t.equal(found.count('moved'), 0);
  t.equal(found.list.length, MAX_MESSAGES_PER_KIND + 2);
  t.equal(found.list[0], 'lost: m0');
  t.equal(found.list[MAX_MESSAGES_PER_KIND], 'lost: ... more not shown');
  t.equal(found.list.at(-1), 'phantom: p');
});

t.test('a smaller bound', async (t) => {
  const found = new Violations(1);
  found.violate('k', 'a');
  found.violate('k', 'b');
  found.violate('k', 'c');
  t.same(found.list, ['k: a', 'k: ... more not shown']);
  t.equal(found.count('k'), 3);
});
