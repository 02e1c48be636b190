// Goal: the CI dose of the RocketMQ fault campaign (issue 6: "every message acknowledged to ali-ons
// is consumable after the faults heal") — a name server and 3 broker processes with proxied
// DLedger links, a fixed seed, 35 s of kill -9 / SIGSTOP / partitions while ali-ons producers send
// and a consumer consumes, next to the gRPC mix (rocketmq-client-nodejs Producers, NORMAL and FIFO
// with 4 message groups, and a SimpleConsumer group: rocketmq-grpc-part.ts); fails on any acknowledged message lost and on any other violation
// (moved, phantom, unexplained duplicate, queue gap, drain gap, live skip, offset going back,
// replica divergence, broker crash, no convergence, an offset going back other than a queue resumed
// from an offset the client read: rocketmq-offset-rules.ts, R3 in FINDINGS.md).
// Method: runRocketMQCampaign with seed 20261125 (<= 90 s with start-up, drain and checking on a
// loaded machine); the summary goes to the test log. Requires the compiled CLI (`npx tsc` first).
import t from 'tap';
import { formatRocketMQSummary, runRocketMQCampaign } from './rocketmq-campaign.js';

t.test('short RocketMQ fault campaign: kill, pause, partition', async (t) => {
  const lines: string[] = [];
  const report = await runRocketMQCampaign({ seed: 20261125, durationMs: 35_000, drainIdleTimeoutMs: 25_000, faults: ['kill', 'pause', 'partition'], log: (line) => lines.push(line) });
  t.comment(formatRocketMQSummary(report));
  t.ok(report.faults.length >= 4, `${report.faults.length} faults injected`);
  t.ok(new Set(report.faults.map((f) => f.family)).size >= 2, `several families injected (${[...new Set(report.faults.map((f) => f.family))].join(',')})`);
  t.ok(report.check.acknowledged >= 200, `${report.check.acknowledged} sends acknowledged`);
  t.ok(report.converged, 'the brokers converged after healing');
  t.equal(report.check.lost, 0, 'no acknowledged message lost');
  t.equal(report.check.moved, 0, 'every acknowledged message at its msgId in the log');
  const grpc = report.grpc;
  t.not(grpc, null, 'the gRPC mix ran (the default clients are remoting,grpc)');
  if (grpc !== null) {
    // The gRPC clients' own errors (startup, send, receive) are only in the report: print them
    // when the FIFO sends did not get through (a CI run at load 14 had 0 acknowledged).
    if (grpc.fifo.acknowledged < 50) t.comment(`gRPC client errors (first ${grpc.clientErrors.length}):\n${grpc.clientErrors.join('\n')}`);
    t.ok(grpc.fifo.acknowledged >= 50, `${grpc.fifo.acknowledged} FIFO sends acknowledged`);
    t.equal(grpc.check.unconsumed, 0, 'the gRPC group received every acknowledged send (ali-ons and gRPC)');
    t.equal(grpc.check.acksLost, 0, 'no POP ack lost');
    t.equal(grpc.check.early, 0, 'no redelivery before the invisible time');
    t.equal(grpc.check.fifoStoreViolations, 0, 'FIFO groups stored in send order in one queue');
    t.equal(grpc.fifo.lost, 0, 'no acknowledged FIFO message lost');
  }
  if (report.violations.length > 0) t.comment(lines.join('\n'));
  // R3 (FINDINGS.md) is fixed: an offset step back fails this test like any other violation.
  t.same(report.violations, [], 'no violation');
});
