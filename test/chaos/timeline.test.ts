// Goal: the campaign's SVG timeline is well-formed XML and shows what it claims: one bar per fault
// (with its description and the members it hit), the leaders by term, the throughput bars; text
// that needs escaping is escaped. Also the throughput buckets from a history.
// Method: render hand-made inputs and check them with timeline-xml.ts's strict well-formedness
// checker, which is itself shown here to reject broken documents.
import t from 'tap';
import type { History } from './history.js';
import { ackThroughput } from './timeline.js';
import { escapeXml, membersHit, renderTimelineSvg, type TimelineInput } from './timeline-svg.js';
import { xmlProblem } from './timeline-xml.js';

const input: TimelineInput = {
  title: 'chaos seed 7 <test> & "quotes"',
  subtitle: ['operations 1000 (ok 990)', 'violations: 0'],
  durationMs: 30_000,
  members: ['n0', 'n1', 'n2'],
  faults: [
    { atMs: 1000, family: 'kill', description: 'kill -9 n1 (leader)', holdMs: 2500 },
    { atMs: 6000, family: 'partition', description: 'halves [n0] | [n1,n2] with 50 ms delay inside the majority', holdMs: 3000 },
    { atMs: 12_000, family: 'pause', description: 'SIGSTOP n2 for 2000 ms', holdMs: 2000 },
    { atMs: 17_000, family: 'duplicate', description: 'duplicate every peer frame on every link <&>', holdMs: 2200 },
    { atMs: 21_000, family: 'partition', description: 'isolate n2', holdMs: 4000 },
    { atMs: 25_500, family: 'partition', description: 'halves [n2] | [n0,n1] with 50 ms delay inside the majority', holdMs: 4000 },
  ],
  leaders: [
    { leader: 'n1', term: 1, fromMs: 200, toMs: 1000 },
    { leader: 'n0', term: 2, fromMs: 1800, toMs: 29_000 },
    { leader: 'n1', term: 2, fromMs: 6000, toMs: 6500 },
  ],
  throughput: { bucketMs: 1000, acked: Array.from({ length: 30 }, (_, i) => (i % 5 === 1 ? 0 : 30 + i)) },
};

t.test('the well-formedness checker rejects broken documents', async (t) => {
  t.equal(xmlProblem('<svg><g><rect x="1"/></g></svg>'), null, 'a good one passes');
  t.not(xmlProblem('<svg><g></svg>'), null, 'mismatched close');
  t.not(xmlProblem('<svg><g>'), null, 'unclosed');
  t.not(xmlProblem('<svg>a & b</svg>'), null, 'raw ampersand');
  t.not(xmlProblem('<svg x=1></svg>'), null, 'unquoted attribute');
  t.not(xmlProblem('<svg x="1" x="2"></svg>'), null, 'duplicate attribute');
  t.not(xmlProblem('<svg></svg><svg></svg>'), null, 'two roots');
  t.not(xmlProblem('<svg><text>a < b</text></svg>'), null, 'raw <');
});

t.test('the timeline is well-formed and shows faults, members hit, leaders and throughput', async (t) => {
  const svg = renderTimelineSvg(input);
  t.equal(xmlProblem(svg), null, 'well-formed');
  t.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, 'an SVG document');
  t.equal(svg.match(/<g class="fault"/g)?.length, input.faults.length, 'one bar per fault');
  for (const fault of input.faults) {
    t.ok(svg.includes(escapeXml(fault.description)), `fault described: ${fault.description}`);
    t.ok(svg.includes(`data-family="${fault.family}"`), `lane for ${fault.family}`);
  }
  t.ok(svg.includes('&lt;&amp;&gt;') && svg.includes('&lt;test&gt; &amp; &quot;quotes&quot;'), 'text is escaped');
  t.ok(svg.includes('>isolate n2</text>'), 'a bar is labelled with its description when it fits');
  t.ok(svg.includes('>halves [n2] | [n0,n1]</text>'), 'else with its head');
  t.ok(svg.includes('>n1</text>') && svg.includes('>n0,n1,n2</text>'), 'else with the members hit');
  t.same(membersHit('halves [n0] | [n1,n2] with 50 ms delay inside the majority', input.members), ['n0', 'n1', 'n2'], 'a partition hits both sides');
  t.same(membersHit('duplicate every peer frame on every link', input.members), ['n0', 'n1', 'n2'], 'a fault naming nobody hits everyone');
  t.same(membersHit('SIGSTOP n2 for 2000 ms', ['n0', 'n1', 'n2', 'n20']), ['n2'], 'ids match whole words');
  t.equal(svg.match(/<g class="leader"/g)?.length, 3, 'one bar per leadership span, overlapping claims included');
  t.ok(svg.includes('n0 led term 2 from 1.8 s to 29.0 s'), 'leader span described');
  t.equal(svg.match(/<rect class="throughput"/g)?.length, input.throughput.acked.filter((n) => n > 0).length, 'one throughput bar per non-empty bucket');
  t.ok(svg.includes('peak 59'), 'peak throughput labelled');
});

t.test('an empty run still renders', async (t) => {
  const svg = renderTimelineSvg({ title: 'empty', subtitle: [], durationMs: 0, members: ['n0'], faults: [], leaders: [], throughput: { bucketMs: 1000, acked: [] } });
  t.equal(xmlProblem(svg), null, 'well-formed');
});

t.test('acknowledged appends per bucket', async (t) => {
  const origin = 5000;
  const ok = (completeMs: number) => ({ client: 0, value: `v${completeMs}`, invokeMs: completeMs - 1, completeMs, outcome: { type: 'ok' as const, index: 1, term: 1, pos: 0 } });
  const history: History = {
    ops: [ok(5100), ok(5900), ok(7500), { client: 1, value: 'u', invokeMs: 5000, completeMs: 6000, outcome: { type: 'unknown', error: 'timeout' } }, { client: 1, value: 'f', invokeMs: 5000, completeMs: 6500, outcome: { type: 'fail', error: 'NOT_LEADER' } }],
  };
  t.same(ackThroughput(history, origin, 1000), { bucketMs: 1000, acked: [2, 0, 1] }, 'only ok appends, by completion time');
});
