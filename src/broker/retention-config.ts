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
import { MAX_SEGMENTS_PER_RUN, parseDecimal, parseDeleteWhen, reservedHoursToMs, MAX_RESERVED_HOURS, type RetentionSettings } from '../node/retention-settings.js';

export const BROKER_RETENTION_KEYS: Readonly<Record<string, { readonly defaultValue: string; readonly doc: string }>> = {
  fileReservedTime: { defaultValue: '72', doc: 'hours a commit log segment is kept after its last write (fractions allowed)' },
  deleteWhen: { defaultValue: '04', doc: 'hours of the day expired segments are deleted: "04", "04;16" or "*"' },
  diskMaxUsedSpaceRatio: { defaultValue: '75', doc: 'disk usage % above which expired segments are deleted at any hour (10-95)' },
  cleanResourceInterval: { defaultValue: '10000', doc: 'ms between two disk measurements / cleaning runs' },
  deleteCommitLogFilesInterval: { defaultValue: '100', doc: 'ms between two segment deletions of one run' },
  destroyMapedFileIntervalForcibly: { defaultValue: '120000', doc: 'RocketMQ: ms to wait for readers of a deleted file (none here; validated)' },
  cleanFileForciblyEnable: { defaultValue: 'true', doc: 'delete unexpired segments above diskSpaceCleanForciblyRatio' },
  diskSpaceCleanForciblyRatio: { defaultValue: '85', doc: 'disk usage (% or fraction, 30-85 %) above which old segments go whether expired or not' },
  diskSpaceWarningLevelRatio: { defaultValue: '90', doc: 'disk usage (% or fraction, 35-90 %) above which sends are refused' },
};

export interface BrokerRetention {
  readonly settings: RetentionSettings;
  readonly destroyMapedFileIntervalForciblyMs: number;
}

/** "85" (percent) or "0.85" (fraction) within [minPercent, maxPercent] %, as a fraction. */
function ratioOf(key: string, text: string, minPercent: number, maxPercent: number, problems: string[]): number {
  const trimmed = text.trim();
  if (/^[0-9]+$/.test(trimmed)) {
    const percent = Number(trimmed);
    if (percent >= minPercent && percent <= maxPercent) return percent / 100;
  } else if (/^0?\.[0-9]+$/.test(trimmed)) {
    const fraction = Number(trimmed);
    if (fraction >= minPercent / 100 && fraction <= maxPercent / 100) return fraction;
  }
  problems.push(`${key}: "${text}" must be a percent ${minPercent}-${maxPercent} or a fraction ${minPercent / 100}-${maxPercent / 100}`);
  return maxPercent / 100;
}

export function brokerRetention(text: (key: string) => string, where: (key: string) => string, integer: (key: string, min: number, max: number) => number, problems: string[]): BrokerRetention {
  const fileReservedTime = parseDecimal(where('fileReservedTime'), text('fileReservedTime'), 0, MAX_RESERVED_HOURS, problems, true);
  const deleteWhen = parseDeleteWhen(where('deleteWhen'), text('deleteWhen'), problems);
  const diskMaxUsedSpaceRatio = integer('diskMaxUsedSpaceRatio', 10, 95);
  const cleanResourceInterval = integer('cleanResourceInterval', 10, 3_600_000);
  const deleteCommitLogFilesInterval = integer('deleteCommitLogFilesInterval', 0, 60_000);
  const destroyMapedFileIntervalForcibly = integer('destroyMapedFileIntervalForcibly', 0, 3_600_000);
  const cleanFileForciblyEnable = text('cleanFileForciblyEnable');
  if (cleanFileForciblyEnable !== 'true' && cleanFileForciblyEnable !== 'false') problems.push(`${where('cleanFileForciblyEnable')}: "${cleanFileForciblyEnable}" must be true or false`);
  const cleanForcibly = ratioOf(where('diskSpaceCleanForciblyRatio'), text('diskSpaceCleanForciblyRatio'), 30, 85, problems);
  const warning = ratioOf(where('diskSpaceWarningLevelRatio'), text('diskSpaceWarningLevelRatio'), 35, 90, problems);
  return {
    settings: {
      fileReservedMs: reservedHoursToMs(fileReservedTime),
      deleteWhen,
      checkExpiredRatio: diskMaxUsedSpaceRatio / 100,
      forceCleanRatio: cleanFileForciblyEnable === 'false' ? null : cleanForcibly,
      diskFullRatio: warning,
      // RocketMQ marks the disk OK again only once usage is no longer above the clean-forcibly ratio.
      diskOkRatio: Math.min(cleanForcibly, warning),
      checkIntervalMs: cleanResourceInterval,
      unlinkIntervalMs: deleteCommitLogFilesInterval,
      maxSegmentsPerRun: MAX_SEGMENTS_PER_RUN,
    },
    destroyMapedFileIntervalForciblyMs: destroyMapedFileIntervalForcibly,
  };
}
