// Goal: a follower that copies the leader with readRaw/appendRaw — through divergent suffixes it
// must truncate, BLANK fillers it must write itself, prefix resets (snapshot installs) that move
// its start to the leader's position, crashes and power losses — ends with records at the same
// positions as the leader's, byte for byte, and with byte-identical segment files wherever both
// hold the log.
// Method: seeded random schedules over two in-memory stores (the follower's medium tracks
// durability), small segments (4 KiB data / 1 KiB index). Reproduce with REPLICATION_SEED=<seed>.
import t from 'tap';
import { join } from 'node:path';
import { Prng } from '../../src/util/prng.js';
import { MemoryLogStore, MemoryMedium, type StoreOptions } from '../../src/store/index.js';

const SEED_COUNT = Number(process.env.REPLICATION_SEED_COUNT ?? 30);
const SEEDS = process.env.REPLICATION_SEED === undefined ? Array.from({ length: SEED_COUNT }, (_, i) => i + 1) : [Number(process.env.REPLICATION_SEED)];
const STEPS = 200;
const SEGMENT = 4096;

function options(nodeDir: string): StoreOptions {
  return { nodeDir, dataSegmentSizeBytes: SEGMENT, indexSegmentSizeBytes: 1024, maxEntryBodyBytes: 1500, flush: { kind: 'sync' } };
}

function randomBodies(prng: Prng): Uint8Array[] {
  return Array.from({ length: prng.intBetween(1, 6) }, () => Uint8Array.from({ length: prng.intBetween(0, 1500) }, () => prng.nextUint32() & 0xff));
}

/** First index where the follower's entry differs from the leader's (or its lastIndex + 1). */
function firstConflict(leader: MemoryLogStore, follower: MemoryLogStore): number {
  for (let index = Math.max(leader.beforeBeginIndex, follower.beforeBeginIndex) + 1; index <= follower.lastIndex; index++) {
    const ours = follower.get(index);
    const theirs = leader.get(index);
    if (ours === null || theirs === null || ours.term !== theirs.term || ours.pos !== theirs.pos || ours.chainCrc !== theirs.chainCrc) return index;
  }
  return follower.lastIndex + 1;
}

for (const seed of SEEDS) {
  t.test(`seed ${seed}`, async (t) => {
    const prng = new Prng(seed);
    const leader = new MemoryLogStore(options('/leader'));
    const followerMedium = new MemoryMedium({ trackDurability: true });
    let follower = new MemoryLogStore(options('/follower'), followerMedium);
    let leaderTerm = 2;
    const problems: string[] = [];

    const catchUp = (maxRounds: number): void => {
      // Snapshot install: the follower lacks the leader's compacted prefix, or holds a different
      // entry at its last index.
      const snapshotIndex = leader.beforeBeginIndex;
      if (snapshotIndex > follower.beforeBeginIndex && (follower.lastIndex < snapshotIndex || follower.get(snapshotIndex)?.term !== leader.beforeBeginTerm)) {
        follower.resetPrefix(snapshotIndex, leader.beforeBeginTerm);
      }
      const conflict = firstConflict(leader, follower);
      if (conflict <= follower.lastIndex) follower.truncate(conflict);
      for (let round = 0; round < maxRounds && follower.lastIndex < leader.lastIndex; round++) {
        const raw = leader.readRaw(follower.lastIndex + 1, prng.intBetween(1, 5000));
        if (raw === null) {
          problems.push(`readRaw(${follower.lastIndex + 1}) returned null below lastIndex ${leader.lastIndex}`);
          return;
        }
        follower.appendRaw(raw);
      }
    };

    for (let step = 0; step < STEPS && problems.length === 0; step++) {
      const roll = prng.nextFloat();
      try {
        if (roll < 0.35) {
          // The leader's terms are even, the follower's own (divergent) terms odd: one leader per term.
          if (prng.chance(0.1)) leaderTerm += 2;
          leader.append(leaderTerm, randomBodies(prng));
        } else if (roll < 0.6) {
          catchUp(prng.intBetween(1, 20));
          await follower.whenDurable(follower.lastIndex);
        } else if (roll < 0.7) {
          // The follower led an older term and wrote entries nobody else has.
          catchUp(prng.intBetween(0, 5));
          follower.append(follower.lastTerm % 2 === 1 ? follower.lastTerm : follower.lastTerm + 1, randomBodies(prng));
        } else if (roll < 0.75) {
          const upTo = prng.intBetween(leader.beforeBeginIndex + 1, leader.lastIndex + 2);
          if (upTo <= leader.lastIndex) leader.resetPrefix(upTo, leader.get(upTo)?.term as number);
        } else if (roll < 0.85) {
          follower.simulateCrash();
          if (prng.chance(0.5)) followerMedium.loseUnflushedWrites();
          follower = new MemoryLogStore(options('/follower'), followerMedium);
        } else {
          await follower.close();
          follower = new MemoryLogStore(options('/follower'), followerMedium);
        }
      } catch (error) {
        problems.push(`step ${step}: ${(error as Error).stack ?? String(error)}`);
      }
    }
    catchUp(10_000);
    t.same(problems, [], `no error (REPLICATION_SEED=${seed})`);
    t.equal(follower.lastIndex, leader.lastIndex, 'caught up');
    let differing = 0;
    for (let index = Math.max(leader.beforeBeginIndex, follower.beforeBeginIndex) + 1; index <= leader.lastIndex; index++) {
      const a = leader.readRaw(index, 1);
      const b = follower.readRaw(index, 1);
      if (a === null || b === null || a.pos !== b.pos || Buffer.compare(a.bytes, b.bytes) !== 0) differing++;
    }
    t.equal(differing, 0, 'every record at the same pos, byte-identical');
    // Whole segment files after the first one each side holds must be identical.
    const leaderFiles = leader.memoryMedium.listFiles('/leader/data');
    const followerFiles = new Set(followerMedium.listFiles('/follower/data'));
    const firstCommon = Math.max(Number(leaderFiles[0]), Number([...followerFiles][0]));
    let comparedFiles = 0;
    for (const name of leaderFiles) {
      if (Number(name) <= firstCommon || !followerFiles.has(name)) continue;
      const ours = followerMedium.segment(join('/follower/data', name))?.bytes;
      const theirs = leader.memoryMedium.segment(join('/leader/data', name))?.bytes;
      if (ours === undefined || theirs === undefined || Buffer.compare(ours, theirs) !== 0) differing++;
      comparedFiles++;
    }
    t.equal(differing, 0, `${comparedFiles} whole data files identical`);
    await leader.close();
    await follower.close();
  });
}
