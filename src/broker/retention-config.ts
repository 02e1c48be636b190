// RocketMQ's commit-log cleaning keys (MessageStoreConfig; DefaultMessageStore.CleanCommitLogService)
// for a DLedger broker, validated with RocketMQ's ranges, and the retention settings the node's
// retention service runs by. RocketMQ semantics kept:
//  - every cleanResourceInterval ms the disk holding the commit log is measured (statfs);
//  - deletion runs at the hours of deleteWhen, or at any hour once usage > diskMaxUsedSpaceRatio %;
//    it deletes segments last written more than fileReservedTime hours ago (fractions allowed here),
//    oldest first, at most 10 per run, deleteCommitLogFilesInterval ms apart;
//  - above diskSpaceCleanForciblyRatio (with cleanFileForciblyEnable) it deletes old segments
//    whether expired or not;
//  - above diskSpaceWarningLevelRatio the disk is marked full and sends are refused
//    (SERVICE_NOT_AVAILABLE) until usage is back at or below diskSpaceCleanForciblyRatio.
// Both ratios take RocketMQ 5's integer percent ("85") or RocketMQ 4's fraction ("0.85"), within
// the bounds RocketMQ's getters clamp to (warning 35-90 %, clean forcibly 30-85 %); we refuse
// outside them rather than clamp. destroyMapedFileIntervalForcibly is RocketMQ's wait for readers
// still holding a deleted file: nothing here holds a segment across an event-loop turn (reads are
// synchronous, the unmap happens at once), so it is validated and reported, and waits for nothing.
// RocketMQ's DLedger mode copies fileReservedTime + 1 into DLedger's fileReservedHours; here the
// broker's value is used as written.
import { deleteWhenOf, MAX_RESERVED_HOURS, MAX_SEGMENTS_PER_RUN, reservedHoursToMs, type RetentionSettings } from '../node/retention-settings.js';
import { decimalIn, integerIn, type KeySource, type KeyTable, type KeyType, readKeyTable, trueOrFalse } from '../util/key-table.js';

/** "85" (percent) or "0.85" (fraction) within [minPercent, maxPercent] %, as a fraction. */
function percentOrFraction(minPercent: number, maxPercent: number): KeyType<number> {
  return (text) => {
    if (/^[0-9]+$/.test(text)) {
      const percent = Number(text);
      if (percent >= minPercent && percent <= maxPercent) return { value: percent / 100 };
    } else if (/^0?\.[0-9]+$/.test(text)) {
      const fraction = Number(text);
      if (fraction >= minPercent / 100 && fraction <= maxPercent / 100) return { value: fraction };
    }
    return { refusal: `must be a percent ${minPercent}-${maxPercent} or a fraction ${minPercent / 100}-${maxPercent / 100}`, fallback: maxPercent / 100 };
  };
}

export const BROKER_RETENTION_TABLE = {
  fileReservedTime: { key: 'fileReservedTime', defaultValue: '72', doc: 'hours a commit log segment is kept after its last write (fractions allowed)', type: decimalIn(0, MAX_RESERVED_HOURS, true) },
  deleteWhen: { key: 'deleteWhen', defaultValue: '04', doc: 'hours of the day expired segments are deleted: "04", "04;16" or "*"', type: deleteWhenOf },
  diskMaxUsedSpaceRatio: { key: 'diskMaxUsedSpaceRatio', defaultValue: '75', doc: 'disk usage % above which expired segments are deleted at any hour (10-95)', type: integerIn(10, 95) },
  cleanResourceInterval: { key: 'cleanResourceInterval', defaultValue: '10000', doc: 'ms between two disk measurements / cleaning runs', type: integerIn(10, 3_600_000) },
  deleteCommitLogFilesInterval: { key: 'deleteCommitLogFilesInterval', defaultValue: '100', doc: 'ms between two segment deletions of one run', type: integerIn(0, 60_000) },
  destroyMapedFileIntervalForcibly: { key: 'destroyMapedFileIntervalForcibly', defaultValue: '120000', doc: 'RocketMQ: ms to wait for readers of a deleted file (none here; validated)', type: integerIn(0, 3_600_000) },
  cleanFileForciblyEnable: { key: 'cleanFileForciblyEnable', defaultValue: 'true', doc: 'delete unexpired segments above diskSpaceCleanForciblyRatio', type: trueOrFalse },
  diskSpaceCleanForciblyRatio: { key: 'diskSpaceCleanForciblyRatio', defaultValue: '85', doc: 'disk usage (% or fraction, 30-85 %) above which old segments go whether expired or not', type: percentOrFraction(30, 85) },
  diskSpaceWarningLevelRatio: { key: 'diskSpaceWarningLevelRatio', defaultValue: '90', doc: 'disk usage (% or fraction, 35-90 %) above which sends are refused', type: percentOrFraction(35, 90) },
} satisfies KeyTable;

export interface BrokerRetention {
  readonly settings: RetentionSettings;
  readonly destroyMapedFileIntervalForciblyMs: number;
}

export function brokerRetention(source: KeySource): BrokerRetention {
  const keys = readKeyTable(BROKER_RETENTION_TABLE, source);
  return {
    settings: {
      fileReservedMs: reservedHoursToMs(keys.fileReservedTime),
      deleteWhen: keys.deleteWhen,
      checkExpiredRatio: keys.diskMaxUsedSpaceRatio / 100,
      forceCleanRatio: keys.cleanFileForciblyEnable ? keys.diskSpaceCleanForciblyRatio : null,
      diskFullRatio: keys.diskSpaceWarningLevelRatio,
      // RocketMQ marks the disk OK again only once usage is no longer above the clean-forcibly ratio.
      diskOkRatio: Math.min(keys.diskSpaceCleanForciblyRatio, keys.diskSpaceWarningLevelRatio),
      checkIntervalMs: keys.cleanResourceInterval,
      unlinkIntervalMs: keys.deleteCommitLogFilesInterval,
      maxSegmentsPerRun: MAX_SEGMENTS_PER_RUN,
    },
    destroyMapedFileIntervalForciblyMs: keys.destroyMapedFileIntervalForcibly,
  };
}
