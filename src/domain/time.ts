/**
 * Time-zone arithmetic on plain epoch milliseconds, using only Intl (allowed in the workflow sandbox).
 * "Wall" milliseconds are the local calendar fields of a zone encoded as if they were UTC
 * (Date.UTC(y, m, d, h, mi, s)), which makes local calendar maths plain integer maths.
 */

const MIN = 60_000;
export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
/** Largest instant the JS Date type (and Intl) can represent. */
export const MAX_INSTANT_MS = 8.64e15;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone name this runtime knows. */
export function isValidTimeZone(timeZone: unknown): timeZone is string {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** True for finite instants inside the representable Date range. */
export function isValidInstant(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && Math.abs(ms) <= MAX_INSTANT_MS;
}

/** Local wall time of `ms` in `timeZone`, as wall milliseconds (see module doc). */
export function wallMs(ms: number, timeZone: string): number {
  return ms + offsetMs(ms, timeZone);
}

/** UTC offset (local - UTC) in ms of `timeZone` at instant `ms`. */
export function offsetMs(ms: number, timeZone: string): number {
  const secondFloor = Math.floor(ms / 1000) * 1000;
  const parts = formatter(timeZone).formatToParts(new Date(secondFloor));
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        year = Number(p.value);
        break;
      case 'month':
        month = Number(p.value);
        break;
      case 'day':
        day = Number(p.value);
        break;
      case 'hour':
        hour = Number(p.value) % 24;
        break;
      case 'minute':
        minute = Number(p.value);
        break;
      case 'second':
        second = Number(p.value);
        break;
      case 'era':
        bc = p.value.startsWith('B');
        break;
      default:
        break;
    }
  }
  const y = bc ? 1 - year : year;
  const d = new Date(0);
  d.setUTCFullYear(y, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getTime() - secondFloor;
}

/**
 * The instant at which the wall clock of `timeZone` shows `wall`. For a wall time skipped by a
 * DST gap, returns the first instant after the gap; for a repeated wall time, the earlier instant.
 */
export function wallToInstant(wall: number, timeZone: string): number {
  const oA = offsetMs(wall - DAY_MS, timeZone);
  const oB = offsetMs(wall + DAY_MS, timeZone);
  const candidates = [wall - oA, wall - oB].filter((t) => wallMs(t, timeZone) === wall).sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0] as number;
  // In a DST gap: the first instant whose wall time is at or after `wall`.
  let lo = Math.min(wall - oA, wall - oB);
  let hi = Math.max(wall - oA, wall - oB);
  if (wallMs(lo, timeZone) >= wall) return lo;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallMs(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Day of week of a wall time, Monday = 0 … Sunday = 6. */
export function wallWeekday(wall: number): number {
  const days = Math.floor(wall / DAY_MS);
  return (((days + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday (index 3)
}

/** Milliseconds since Monday 00:00 of the wall week. */
export function wallWeekOffset(wall: number): number {
  const intoDay = ((wall % DAY_MS) + DAY_MS) % DAY_MS;
  return wallWeekday(wall) * DAY_MS + intoDay;
}

export const MINUTE_MS = MIN;
