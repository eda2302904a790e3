/**
 * The six-field NCRONTAB schedules of timer triggers (`{second} {minute} {hour} {day} {month}
 * {day-of-week}`), as far as the app uses them: `*`, numbers, ranges `a-b`, lists `a,b` and steps
 * `* /n` or `a-b/n`. Times are UTC, as on Azure unless WEBSITE_TIME_ZONE is set.
 */

interface Field {
  min: number;
  max: number;
}

const FIELDS: readonly Field[] = [
  { min: 0, max: 59 }, // second
  { min: 0, max: 59 }, // minute
  { min: 0, max: 23 }, // hour
  { min: 1, max: 31 }, // day of month
  { min: 1, max: 12 }, // month
  { min: 0, max: 6 }, // day of week, Sunday = 0
];

export type Schedule = readonly ReadonlySet<number>[];

/** Parses a schedule; throws an Error naming the schedule when it is not one this host can run. */
export function parseSchedule(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) {
    throw new Error(`Timer schedule "${expression}" must have six fields (second to day of week).`);
  }
  return parts.map((part, index) => {
    const values = parseField(part, FIELDS[index]);
    if (!values) throw new Error(`Timer schedule "${expression}": field "${part}" is not supported.`);
    return values;
  });
}

function parseField(part: string, { min, max }: Field): Set<number> | undefined {
  const values = new Set<number>();
  for (const item of part.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
    if (!match) return undefined;
    const from = match[1] === '*' ? min : Number(match[2]);
    const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] ? max : from;
    const step = match[4] ? Number(match[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

/** The first instant strictly after `after` that the schedule names (whole seconds, UTC). */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const [seconds, minutes, hours, days, months, weekdays] = schedule;
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  // Every step moves to the start of the next candidate unit; five years bound a schedule that
  // names no real date (31 February).
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0);
    } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0);
    } else if (!hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0);
    } else if (!minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0);
    } else if (!seconds.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1);
    } else {
      return t;
    }
  }
  throw new Error('The timer schedule names no instant in the next five years.');
}
