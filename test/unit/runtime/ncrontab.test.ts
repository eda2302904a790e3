import { nextOccurrence, parseSchedule } from '../../../dev/runtime/ncrontab';

const next = (schedule: string, after: string) =>
  nextOccurrence(parseSchedule(schedule), new Date(after)).toISOString();

describe('NCRONTAB schedules of timer triggers', () => {
  it('given every five minutes, when asked after a time, then the next multiple of five minutes follows', () => {
    expect(next('0 */5 * * * *', '2026-12-05T10:02:30.500Z')).toBe('2026-12-05T10:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-12-05T10:05:00.000Z')).toBe('2026-12-05T10:10:00.000Z');
    expect(next('0 */5 * * * *', '2026-12-31T23:59:59.000Z')).toBe('2027-01-01T00:00:00.000Z');
  });

  it('given lists, ranges, days and weekdays, when asked, then only instants every field names are chosen', () => {
    // 09:30 and 17:30 on weekdays: after Friday evening comes Monday morning.
    expect(next('0 30 9,17 * * 1-5', '2026-12-04T18:00:00Z')).toBe('2026-12-07T09:30:00.000Z');
    // Midnight on the 1st of February.
    expect(next('0 0 0 1 2 *', '2026-12-05T00:00:00Z')).toBe('2027-02-01T00:00:00.000Z');
    // Every 20 seconds from second 10 to 50.
    expect(next('10-50/20 * * * * *', '2026-12-05T10:00:31Z')).toBe('2026-12-05T10:00:50.000Z');
  });

  it('given a schedule it cannot run, when parsed, then the error names it', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/six fields/);
    expect(() => parseSchedule('0 61 * * * *')).toThrow(/"61"/);
    expect(() => parseSchedule('0 0 12 ? * MON')).toThrow(/not supported/);
    expect(() => nextOccurrence(parseSchedule('0 0 0 31 2 *'), new Date())).toThrow(/no instant/);
  });
});
