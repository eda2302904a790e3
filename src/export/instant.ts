/**
 * FHIR instants at the precision they were given. `Date` keeps milliseconds only: read through it, a
 * `_since` of `…00.1234Z` becomes `…00.123Z` and lets in resources updated before it.
 */

const PARTS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

interface ExactInstant {
  /** Epoch milliseconds of the whole second (UTC). */
  second: number;
  /** The digits after the decimal point, without trailing zeros. */
  fraction: string;
}

function exact(value: string): ExactInstant | undefined {
  const parts = PARTS.exec(value);
  if (parts) {
    if (!isCalendarDate(parts[1].slice(0, 10))) return undefined;
    const second = Date.parse(`${parts[1]}${parts[3]}`);
    if (Number.isNaN(second)) return undefined;
    return { second, fraction: (parts[2] ?? '').replace(/0+$/, '') };
  }
  // Any other form `Date` reads carries no more than milliseconds.
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const second = Math.floor(ms / 1000) * 1000;
  return {
    second,
    fraction: String(ms - second)
      .padStart(3, '0')
      .replace(/0+$/, ''),
  };
}

/** `Date` rolls a day the month lacks (`2024-02-31`) over into the next month instead of refusing it. */
function isCalendarDate(date: string): boolean {
  const [year, month, day] = date.split('-').map(Number);
  const parsed = new Date(Date.UTC(year, month - 1, day));
  return (
    parsed.getUTCFullYear() === year && parsed.getUTCMonth() === month - 1 && parsed.getUTCDate() === day
  );
}

function exactOrThrow(value: string): ExactInstant {
  const instant = exact(value);
  if (!instant) throw new Error(`not an instant: ${value}`);
  return instant;
}

/**
 * The instant in UTC (`…Z`) with at least millisecond digits and every finer digit it was given;
 * undefined when it is not an instant. Equal instants get the same text.
 */
export function utcInstant(value: string): string | undefined {
  const instant = exact(value);
  if (!instant) return undefined;
  const second = new Date(instant.second).toISOString().slice(0, 19);
  return `${second}.${instant.fraction.padEnd(3, '0')}Z`;
}

/** Negative, zero or positive as `a` is before, at or after `b`, to the last digit of either. */
export function compareInstants(a: string, b: string): number {
  const x = exactOrThrow(a);
  const y = exactOrThrow(b);
  if (x.second !== y.second) return x.second < y.second ? -1 : 1;
  const width = Math.max(x.fraction.length, y.fraction.length);
  const fx = x.fraction.padEnd(width, '0');
  const fy = y.fraction.padEnd(width, '0');
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}

/**
 * The instant as epoch milliseconds, rounded `down` or `up` when it has finer digits: the bound a
 * store of millisecond instants needs (`>= 0.1234` is `>= 0.124` there, `<= 0.1234` is `<= 0.123`).
 */
export function instantMs(value: string, rounding: 'down' | 'up'): number {
  const instant = exactOrThrow(value);
  const ms = instant.second + Number(instant.fraction.padEnd(3, '0').slice(0, 3));
  return rounding === 'up' && instant.fraction.length > 3 ? ms + 1 : ms;
}
