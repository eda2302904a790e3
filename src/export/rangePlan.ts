/**
 * Splitting one large resource type into time ranges that are exported as separate, parallel units.
 *
 * Ranges cut the unit's `_lastUpdated` window at K − 1 boundaries spaced evenly in time between the
 * earliest match and min(latest match, window end). Range 1 keeps the window's own lower end (the
 * job's `_since`, or none) and ends before boundary 1; range i starts at boundary i − 1 (inclusive)
 * and ends before boundary i (exclusive); the last range runs to the window's end (`until`,
 * inclusive). The ranges are therefore disjoint and cover the whole window, whatever the estimate
 * said: every resource the unsplit search would return is in exactly one range.
 */
import type { SourceDescription } from '../sources/searchSource';
import { compareInstants } from './instant';
import type { PlannedUnit } from './model';

export interface TimeRange {
  /** 1-based position of the range within its type. */
  index: number;
  /** Inclusive lower bound (ISO instant); undefined for the first range. */
  start?: string;
  /** Exclusive upper bound (ISO instant); undefined for the last range. */
  end?: string;
}

export interface RangeSettings {
  /** A type with more matches than this is split. */
  threshold: number;
  /** Most ranges per type; 1 turns splitting off. */
  maxRanges: number;
}

/** How many ranges a type of `total` resources gets: min(max, ⌈total / threshold⌉), at least 1. */
export function rangeCount(total: number | undefined, settings: RangeSettings): number {
  if (total === undefined || !Number.isFinite(total) || settings.maxRanges <= 1) return 1;
  if (total <= settings.threshold) return 1;
  return Math.max(1, Math.min(settings.maxRanges, Math.ceil(total / settings.threshold)));
}

/**
 * The ranges of one type, or an empty list when it stays one unit (small, unknown size or span,
 * or a span too short to cut). `windowEnd` is the search's inclusive upper bound (`until`).
 */
export function planRanges(
  description: SourceDescription,
  windowEnd: string,
  settings: RangeSettings,
): TimeRange[] {
  const k = rangeCount(description.total, settings);
  if (k <= 1 || description.earliest === undefined || description.latest === undefined) return [];
  const low = Date.parse(description.earliest);
  const high = Math.min(Date.parse(description.latest), Date.parse(windowEnd));
  if (!Number.isFinite(low) || !Number.isFinite(high) || high <= low) return [];

  const boundaries: number[] = [];
  for (let i = 1; i < k; i++) {
    const at = low + Math.floor(((high - low) * i) / k);
    if (at > (boundaries[boundaries.length - 1] ?? low)) boundaries.push(at);
  }
  if (boundaries.length === 0) return [];
  const instants = boundaries.map((ms) => new Date(ms).toISOString());
  return [...instants, undefined].map((end, i) => ({
    index: i + 1,
    ...(i > 0 ? { start: instants[i - 1] } : {}),
    ...(end !== undefined ? { end } : {}),
  }));
}

/**
 * The units of one type: the type itself, or its time ranges when `description` calls for a split
 * (`planRanges`), each with its share of the estimate. Without a description: one unit, no estimate.
 */
export function typeUnits(
  resourceType: string,
  description: SourceDescription | undefined,
  windowEnd: string,
  settings: RangeSettings,
): PlannedUnit[] {
  const estimate = description?.total;
  const ranges = description ? planRanges(description, windowEnd, settings) : [];
  if (ranges.length === 0) {
    return [{ unitId: resourceType, resourceType, ...(estimate !== undefined ? { estimate } : {}) }];
  }
  return ranges.map((range) => ({
    unitId: rangeUnitId(resourceType, range.index),
    resourceType,
    rangeIndex: range.index,
    ...(range.start !== undefined ? { rangeStart: range.start } : {}),
    ...(range.end !== undefined ? { rangeEnd: range.end } : {}),
    ...(estimate !== undefined ? { estimate: Math.ceil(estimate / ranges.length) } : {}),
  }));
}

/** Largest estimate first; equal estimates (or none) keep their order (type order, then range order). */
export function largestFirst(units: PlannedUnit[]): PlannedUnit[] {
  return units
    .map((unit, order) => ({ unit, order }))
    .sort((a, b) => (b.unit.estimate ?? 0) - (a.unit.estimate ?? 0) || a.order - b.order)
    .map(({ unit }) => unit);
}

/**
 * The unit id of range `index` of a type: `Observation.r2`. Letters, digits and one dot, so it is a
 * valid fragment of a Cosmos DB id and of a durable instance id, and never equals a type name.
 */
export function rangeUnitId(resourceType: string, index: number): string {
  return `${resourceType}.r${index}`;
}

/** The later of two optional instants (the range's start against the job's `_since`). */
export function laterInstant(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareInstants(a, b) >= 0 ? a : b;
}

/**
 * Deals the units into at most `lanes` lanes, largest estimate first, each to the lane with the least
 * estimated work so far (ties: the lane with fewer units, then the lower index). Without estimates
 * this is round-robin in plan order. A split type's ranges, being the largest units, start in
 * different lanes. Pure and deterministic: the job orchestrator calls it.
 */
export function dealIntoLanes(units: PlannedUnit[], lanes: number): PlannedUnit[][] {
  const dealt: PlannedUnit[][] = Array.from({ length: Math.min(lanes, units.length) }, () => []);
  const load = dealt.map(() => 0);
  for (const unit of largestFirst(units)) {
    let best = 0;
    for (let i = 1; i < dealt.length; i++) {
      if (load[i] < load[best] || (load[i] === load[best] && dealt[i].length < dealt[best].length)) best = i;
    }
    dealt[best].push(unit);
    load[best] += unit.estimate ?? 0;
  }
  return dealt;
}
