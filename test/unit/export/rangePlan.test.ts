import type { PlannedUnit } from '../../../src/export/model';
import {
  dealIntoLanes,
  largestFirst,
  laterInstant,
  planRanges,
  rangeCount,
  rangeUnitId,
  typeUnits,
  type TimeRange,
} from '../../../src/export/rangePlan';

const SETTINGS = { threshold: 100, maxRanges: 4 };
const EARLIEST = '2024-01-01T00:00:00.000Z';
const LATEST = '2024-01-05T00:00:00.000Z';
const UNTIL = '2030-01-01T00:00:00.000Z';

/** Which ranges hold a resource updated at `instant`, by the half-open rule the sources apply. */
function rangesHolding(ranges: TimeRange[], instant: string, windowEnd = UNTIL): number[] {
  const t = Date.parse(instant);
  return ranges
    .filter((r) => r.start === undefined || t >= Date.parse(r.start))
    .filter((r) => (r.end === undefined ? t <= Date.parse(windowEnd) : t < Date.parse(r.end)))
    .map((r) => r.index);
}

describe('rangeCount', () => {
  it.each([
    [undefined, 1],
    [0, 1],
    [100, 1],
    [101, 2],
    [200, 2],
    [201, 3],
    [400, 4],
    [10_000, 4],
  ])('given %p resources, a threshold of 100 and at most 4 ranges, then %p ranges', (total, k) => {
    expect(rangeCount(total, SETTINGS)).toBe(k);
  });

  it('given at most 1 range per type, then a type is never split', () => {
    expect(rangeCount(1_000_000, { threshold: 1, maxRanges: 1 })).toBe(1);
  });
});

describe('planRanges', () => {
  it('given a type over the threshold, then the boundaries are evenly spaced between its earliest and latest update', () => {
    const ranges = planRanges({ total: 400, earliest: EARLIEST, latest: LATEST }, UNTIL, SETTINGS);
    expect(ranges).toEqual([
      { index: 1, end: '2024-01-02T00:00:00.000Z' },
      { index: 2, start: '2024-01-02T00:00:00.000Z', end: '2024-01-03T00:00:00.000Z' },
      { index: 3, start: '2024-01-03T00:00:00.000Z', end: '2024-01-04T00:00:00.000Z' },
      { index: 4, start: '2024-01-04T00:00:00.000Z' },
    ]);
  });

  it('given ranges, then every instant of the window, boundaries included, is in exactly one range', () => {
    const ranges = planRanges({ total: 350, earliest: EARLIEST, latest: LATEST }, UNTIL, SETTINGS);
    expect(ranges).toHaveLength(4);
    const instants = [
      '1999-01-01T00:00:00.000Z', // before the earliest (the first range has no lower bound)
      EARLIEST,
      ...ranges.flatMap((r) => (r.end ? [r.end, new Date(Date.parse(r.end) - 1).toISOString()] : [])),
      LATEST,
      '2029-12-31T23:59:59.999Z', // after the latest, still in the window
      UNTIL,
    ];
    for (const instant of instants) expect(rangesHolding(ranges, instant)).toHaveLength(1);
    // Past the window's end: in none (the search's `until` excludes it).
    expect(rangesHolding(ranges, '2030-01-01T00:00:00.001Z')).toEqual([]);
  });

  it('given a latest update after the window end, then the boundaries stop at the window end', () => {
    const ranges = planRanges(
      { total: 200, earliest: EARLIEST, latest: '2031-01-01T00:00:00.000Z' },
      '2024-01-03T00:00:00.000Z',
      SETTINGS,
    );
    expect(ranges).toEqual([
      { index: 1, end: '2024-01-02T00:00:00.000Z' },
      { index: 2, start: '2024-01-02T00:00:00.000Z' },
    ]);
  });

  it.each([
    ['at the threshold', { total: 100, earliest: EARLIEST, latest: LATEST }],
    ['of unknown size', { earliest: EARLIEST, latest: LATEST }],
    ['without a time span', { total: 1000 }],
    ['with one instant only', { total: 1000, earliest: EARLIEST, latest: EARLIEST }],
    ['with an unparsable span', { total: 1000, earliest: 'soon', latest: LATEST }],
  ])('given a type %s, then it is not split', (_, description) => {
    expect(planRanges(description, UNTIL, SETTINGS)).toEqual([]);
  });

  it('given a span of a few milliseconds, then only distinct boundaries are kept', () => {
    const ranges = planRanges(
      { total: 1000, earliest: EARLIEST, latest: '2024-01-01T00:00:00.002Z' },
      UNTIL,
      SETTINGS,
    );
    expect(ranges.map((r) => r.end ?? null)).toEqual(['2024-01-01T00:00:00.001Z', null]);
  });
});

describe('unit ids and instants', () => {
  it('given a range, then its unit id is a valid Cosmos id and durable instance id fragment', () => {
    expect(rangeUnitId('Observation', 2)).toBe('Observation.r2');
    expect(rangeUnitId('Observation', 2)).toMatch(/^[A-Za-z0-9.]+$/);
  });

  it('given two instants, then the later one wins; a missing one gives way', () => {
    expect(laterInstant(undefined, EARLIEST)).toBe(EARLIEST);
    expect(laterInstant(LATEST, undefined)).toBe(LATEST);
    expect(laterInstant(EARLIEST, LATEST)).toBe(LATEST);
    expect(laterInstant(undefined, undefined)).toBeUndefined();
  });

  it('given instants that differ below a millisecond, then the later one wins', () => {
    expect(laterInstant('2024-01-01T00:00:00.123Z', '2024-01-01T00:00:00.1234Z')).toBe(
      '2024-01-01T00:00:00.1234Z',
    );
    expect(laterInstant('2024-01-01T00:00:00.1234Z', '2024-01-01T00:00:00.123Z')).toBe(
      '2024-01-01T00:00:00.1234Z',
    );
  });
});

describe('typeUnits and largestFirst', () => {
  it('Given a type above the threshold with a span, When planned, Then it is its ranges, each with a share of the estimate', () => {
    const units = typeUnits(
      'Observation',
      { total: 350, earliest: EARLIEST, latest: LATEST },
      UNTIL,
      SETTINGS,
    );
    expect(units.map((u) => [u.unitId, u.rangeIndex, u.estimate])).toEqual([
      ['Observation.r1', 1, 88],
      ['Observation.r2', 2, 88],
      ['Observation.r3', 3, 88],
      ['Observation.r4', 4, 88],
    ]);
    expect(units[0].rangeStart).toBeUndefined();
    expect(units[3].rangeEnd).toBeUndefined();
    expect(units[1].rangeStart).toBe(units[0].rangeEnd);
  });

  it('Given a small type or no description, When planned, Then it is one unit (with its estimate when known)', () => {
    expect(typeUnits('Patient', { total: 12 }, UNTIL, SETTINGS)).toEqual([
      { unitId: 'Patient', resourceType: 'Patient', estimate: 12 },
    ]);
    expect(typeUnits('Patient', undefined, UNTIL, SETTINGS)).toEqual([
      { unitId: 'Patient', resourceType: 'Patient' },
    ]);
  });

  it('Given units with and without estimates, When ordered, Then largest first and ties keep their order', () => {
    const unit = (unitId: string, estimate?: number): PlannedUnit => ({
      unitId,
      resourceType: unitId,
      ...(estimate !== undefined ? { estimate } : {}),
    });
    const ordered = largestFirst([unit('a', 5), unit('b'), unit('c', 9), unit('d', 5), unit('e')]);
    expect(ordered.map((u) => u.unitId)).toEqual(['c', 'a', 'd', 'b', 'e']);
  });
});

describe('dealIntoLanes', () => {
  const unit = (unitId: string, estimate?: number): PlannedUnit => ({
    unitId,
    resourceType: unitId.split('.')[0],
    ...(estimate !== undefined ? { estimate } : {}),
  });

  it('given a split type and small types, then each range starts in its own lane and the small types fill in', () => {
    const units = [
      unit('Observation.r1', 125),
      unit('Observation.r2', 125),
      unit('Observation.r3', 125),
      unit('Observation.r4', 125),
      unit('Encounter', 90),
      unit('Patient', 10),
      unit('Condition', 40),
    ];
    const lanes = dealIntoLanes(units, 4);
    expect(lanes.map((lane) => lane[0].unitId)).toEqual([
      'Observation.r1',
      'Observation.r2',
      'Observation.r3',
      'Observation.r4',
    ]);
    expect(lanes.flat()).toHaveLength(units.length);
    expect(lanes[0].map((u) => u.unitId)).toEqual(['Observation.r1', 'Encounter']);
    expect(lanes[1].map((u) => u.unitId)).toEqual(['Observation.r2', 'Condition']);
    expect(lanes[2].map((u) => u.unitId)).toEqual(['Observation.r3', 'Patient']);
  });

  it('given no estimates, then the units are dealt round-robin in plan order', () => {
    const lanes = dealIntoLanes(
      ['A', 'B', 'C', 'D', 'E'].map((id) => unit(id)),
      2,
    );
    expect(lanes.map((lane) => lane.map((u) => u.unitId))).toEqual([
      ['A', 'C', 'E'],
      ['B', 'D'],
    ]);
  });

  it('given fewer units than lanes, then there is one lane per unit', () => {
    expect(dealIntoLanes([unit('A', 1)], 4)).toHaveLength(1);
    expect(dealIntoLanes([], 4)).toEqual([]);
  });
});
