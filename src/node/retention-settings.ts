// When and how much the log deletes: the settings the retention service (retention-service.ts)
// runs by, built from DLedger's keys for a plain group (node/config.ts) or from RocketMQ's for a
// broker (broker/config.ts), and the parsers both share. Fractions of hours are allowed (tests
// use seconds); DLedger floors fileReservedHours at 1 h, we do not.
import { decimalIn, type KeyType, type Parsed } from '../util/key-table.js';

export type DeleteWhen = { readonly kind: 'always' } | { readonly kind: 'hours'; readonly hours: readonly number[] };

export interface RetentionSettings {
  /** A segment last written longer ago than this is expired (fileReservedHours / fileReservedTime). */
  readonly fileReservedMs: number;
  /** Hours of the day (local time) at which expired segments are deleted (deleteWhen). */
  readonly deleteWhen: DeleteWhen;
  /** Above this used fraction of the disk, expired segments are deleted at any hour. */
  readonly checkExpiredRatio: number;
  /** Above this, segments are deleted whether expired or not; null: never. */
  readonly forceCleanRatio: number | null;
  /** Above this, appends are refused (DLedger's DISK_FULL, RocketMQ's disk-full flag)... */
  readonly diskFullRatio: number;
  /** ...until usage is at or below this (DLedger: diskFullRatio itself; RocketMQ: the clean-forcibly ratio). */
  readonly diskOkRatio?: number;
  /** How often the disk is measured and a deletion run considered. */
  readonly checkIntervalMs: number;
  /** Pause between two file unlinks of one run. */
  readonly unlinkIntervalMs: number;
  /** Data segments one run deletes at most. */
  readonly maxSegmentsPerRun: number;
}

/** DLedger's CleanSpaceService runs every 100 ms; 10 files per pass, 100 ms apart. */
export const DLEDGER_CHECK_INTERVAL_MS = 100;
export const DLEDGER_UNLINK_INTERVAL_MS = 100;
export const MAX_SEGMENTS_PER_RUN = 10;
const HOUR_MS = 3_600_000;
/** 10 years: a larger reserved time is a way of saying "never", and stays far from overflow. */
export const MAX_RESERVED_HOURS = 87_600;

/** "04", "04;16" (hours of the day, RocketMQ's and DLedger's syntax) or "*" (every hour). */
export const deleteWhenOf: KeyType<DeleteWhen> = (text) => {
  if (text === '*') return { value: { kind: 'always' } };
  const parts = text.split(';').map((part) => part.trim()).filter((part) => part.length > 0);
  const hours: number[] = [];
  for (const part of parts) {
    const hour = Number(part);
    if (!/^[0-9]{1,2}$/.test(part) || hour > 23) {
      return { refusal: 'must be hours of the day 00-23 separated by \';\' (e.g. "04" or "04;16"), or "*"', fallback: { kind: 'always' } };
    }
    hours.push(hour);
  }
  if (hours.length === 0) return { refusal: 'names no hour; expected e.g. "04", "04;16" or "*"', fallback: { kind: 'hours', hours } };
  return { value: { kind: 'hours', hours } };
};

/** deleteWhenOf for a key read without a key table; a refusal names `key`. */
export function parseDeleteWhen(key: string, text: string, problems: string[]): DeleteWhen {
  return orProblem(key, text, deleteWhenOf(text.trim()), problems);
}

/** A decimal number in (min, max] (min exclusive when `minExclusive`), else a problem naming the key. */
export function parseDecimal(key: string, text: string, min: number, max: number, problems: string[], minExclusive = false): number {
  return orProblem(key, text, decimalIn(min, max, minExclusive)(text.trim()), problems);
}

function orProblem<T>(key: string, text: string, parsed: Parsed<T>, problems: string[]): T {
  if ('value' in parsed) return parsed.value;
  problems.push(`${key}: "${text}" ${parsed.refusal}`);
  return parsed.fallback;
}

export function reservedHoursToMs(hours: number): number {
  return Math.round(hours * HOUR_MS);
}

export function isTimeToDelete(deleteWhen: DeleteWhen, hourOfDay: number): boolean {
  return deleteWhen.kind === 'always' || deleteWhen.hours.includes(hourOfDay);
}

/** deleteWhen as written in a config file. */
export function formatDeleteWhen(deleteWhen: DeleteWhen): string {
  return deleteWhen.kind === 'always' ? '*' : deleteWhen.hours.map((hour) => String(hour).padStart(2, '0')).join(';');
}
