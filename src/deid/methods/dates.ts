/** FHIR date, dateTime and instant values: their parts, and whether they mean an age over 89. */
export interface DateParts {
  year: number;
  month?: number;
  day?: number;
  /** Set when the value has a time. */
  time?: string;
  zone?: string;
}

const FHIR_DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

export function parseFhirDate(value: string): DateParts | undefined {
  const match = FHIR_DATE.exec(value);
  if (!match) return undefined;
  const [, year, month, day, time, zone] = match;
  const parts: DateParts = { year: Number(year) };
  if (month !== undefined) parts.month = Number(month);
  if (day !== undefined) parts.day = Number(day);
  if (time !== undefined) parts.time = time;
  if (zone !== undefined) parts.zone = zone;
  if ((parts.month ?? 1) < 1 || (parts.month ?? 1) > 12 || (parts.day ?? 1) < 1 || (parts.day ?? 1) > 31) {
    return undefined;
  }
  return parts;
}

/** HIPAA Safe Harbor treats every age over 89 as an identifier. */
export const MAX_AGE = 89;

/** Whether someone born on this date would now be older than 89 (a missing month or day counts as 1). */
export function isAgeOver89(parts: DateParts, now: Date = new Date()): boolean {
  const month = parts.month ?? 1;
  const day = parts.day ?? 1;
  const nowMonth = now.getUTCMonth() + 1;
  const beforeBirthday = nowMonth < month || (nowMonth === month && now.getUTCDate() < day);
  const age = now.getUTCFullYear() - parts.year - (beforeBirthday ? 1 : 0);
  return age > MAX_AGE;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** The date moved by whole days; a time becomes midnight with its zone kept. */
export function shiftDate(parts: DateParts, days: number): string {
  // setUTCFullYear, unlike Date.UTC, does not read years below 100 as 19xx.
  const shifted = new Date(0);
  shifted.setUTCFullYear(parts.year, (parts.month ?? 1) - 1, (parts.day ?? 1) + days);
  const date = `${pad(shifted.getUTCFullYear(), 4)}-${pad(shifted.getUTCMonth() + 1, 2)}-${pad(shifted.getUTCDate(), 2)}`;
  return parts.time === undefined ? date : `${date}T00:00:00${parts.zone ?? ''}`;
}
