/**
 * Time arithmetic for plans: refill intervals (`1s`, `500ms`, `1m`, `1h`) and calendar quota periods.
 * Periods are UTC calendar units; a week starts on Monday 00:00 UTC (ISO 8601).
 */
import type { PERIODS } from "./schema.ts";

export type Period = (typeof PERIODS)[number];

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `1s` -> 1000. Throws TypeError for anything the schema would refuse (misuse, not input). */
export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new TypeError(`not a duration: ${JSON.stringify(duration)}`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new TypeError(`duration out of range: ${duration}`);
  return ms;
}

export interface PeriodWindow {
  /** First millisecond of the period containing `now` (UTC). */
  start: number;
  /** First millisecond of the next period. */
  end: number;
}

/** The calendar period (UTC) that contains `now`. */
export function periodWindow(period: Period, now: number): PeriodWindow {
  const d = new Date(now);
  const y = d.getUTCFullYear(), mo = d.getUTCMonth(), day = d.getUTCDate(), h = d.getUTCHours(), mi = d.getUTCMinutes();
  switch (period) {
    case "minute": { const start = Date.UTC(y, mo, day, h, mi); return { start, end: start + 60_000 }; }
    case "hour": { const start = Date.UTC(y, mo, day, h); return { start, end: start + 3_600_000 }; }
    case "day": return { start: Date.UTC(y, mo, day), end: Date.UTC(y, mo, day + 1) };
    case "week": {
      const sinceMonday = (d.getUTCDay() + 6) % 7; // getUTCDay: Sunday 0 ... Saturday 6
      return { start: Date.UTC(y, mo, day - sinceMonday), end: Date.UTC(y, mo, day - sinceMonday + 7) };
    }
    case "month": return { start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) };
  }
}

/** Nominal period length in seconds, for the RateLimit-Policy `w` parameter (months: 30 days). */
export function periodSeconds(period: Period): number {
  return { minute: 60, hour: 3_600, day: 86_400, week: 604_800, month: 2_592_000 }[period];
}
