// Goal: delayed messages keep flowing when retention deleted the SCHEDULE_TOPIC_XXXX units the
// schedule offset still pointed at: delivery continues from the queue's new minimum (RocketMQ's
// ScheduleMessageService corrects an offset below the consume queue's minimum the same way)
// instead of waiting forever for units that are gone.
// Method: 3-member in-process DLedgerCommitLog group (group-harness.ts) with 1 MiB segments and a
// 1 s reserved time; 1,200 delayed messages (level 1) stored while no schedule service runs, so
// the level's offset stays 0 while retention trims the queue; then the service runs on the master.
import t from 'tap';
import { OffsetCommitter } from '../../src/broker/offset-committer.js';
import { ScheduleMessageService } from '../../src/broker/schedule/schedule-service.js';
import { SCHEDULE_OFFSET_GROUP, scheduleIfDelayed, SCHEDULE_TOPIC } from '../../src/broker/schedule/delay-levels.js';
import { decodeMessage, formatMessageProperties } from '../../src/broker/message-codec.js';
import { PERM_READ_WRITE } from '../../src/broker/state/topic-config.js';
import { masterOf, message, startGroup, until } from './group-harness.js';

const REAL_TOPIC = 'DelayedTarget';

t.test('delayed delivery resumes from the schedule queue\'s new minimum after retention', async (t) => {
  const logs: string[] = [];
  const group = await startGroup({ fileReservedTime: String(1 / 3600), deleteWhen: '*', cleanResourceInterval: '100', deleteCommitLogFilesInterval: '0' }, (id, line) => logs.push(`${id}: ${line}`));
  t.teardown(() => group.close());
  t.teardown(() => { if (t.passing() === false) t.comment(logs.filter((l) => !/PreVote|Vote|role /.test(l)).slice(-20).join('\n')); });
  const master = await until(() => masterOf(group.members), 10_000, 'a master');
  await master.proposeCommand({ type: 'upsertTopic', topic: { topicName: REAL_TOPIC, readQueueNums: 1, writeQueueNums: 1, perm: PERM_READ_WRITE, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} } });
  const padding = 'd'.repeat(900);
  for (let i = 0; i < 1200; i += 20) {
    const batch = Array.from({ length: 20 }, (_, j) => {
      const plain = message(REAL_TOPIC, 0, `delayed-${i + j}-${padding}`);
      return scheduleIfDelayed({ ...plain, properties: formatMessageProperties([['DELAY', '1'], ['KEYS', `k${i + j}`]]) }, 18);
    });
    await master.putMessages(batch);
  }
  t.teardown(() => {
    if (t.passing() !== false) return;
    for (const m of group.members) t.comment(JSON.stringify({ id: m.server.config.selfId, role: m.role.role, stats: m.retentionStats(), checkpoint: m.state.lastCheckpoint, range: m.retainedRange(), applied: m.state.lastAppliedIndex, restoring: m.state.isRestoring, min: m.state.minOffset(SCHEDULE_TOPIC, 0) }));
  });
  const min = await until(() => { const m = master.state.minOffset(SCHEDULE_TOPIC, 0); return m > 0 ? m : null; }, 20_000, 'retention to trim the schedule queue');
  const levelOffset = master.state.consumerOffset(SCHEDULE_OFFSET_GROUP, SCHEDULE_TOPIC, 0) ?? 0;
  t.ok(levelOffset < min, `the level's offset (${levelOffset}) is below the queue's minimum ${min}`);
  const schedule = new ScheduleMessageService({ commitLog: master, offsets: new OffsetCommitter(master, () => undefined), levelsMs: [1000], log: () => undefined });
  t.teardown(() => schedule.close());
  schedule.setMaster(true);
  await until(() => master.state.maxOffset(REAL_TOPIC, 0) >= 1200 - min, 20_000, 'the retained delayed messages to reach their real topic');
  const [first] = master.readMessages(REAL_TOPIC, 0, 0, 1, Number.MAX_SAFE_INTEGER);
  t.match(new TextDecoder().decode(decodeMessage(first!, 0).body), new RegExp(`^delayed-${min}-`), `delivery started at the first retained one (${min})`);
  t.equal(schedule.delivered, 1200 - min, `${1200 - min} delivered: every retained delayed message, once`);
});
