/** The options of a synthetic dataset (size, seed, slice, resource mix, time window): defaults and checks. */

/** Inclusive [min, max] count range. */
export type CountRange = readonly [number, number];

export interface ResourceMix {
  encountersPerPatient: CountRange;
  observationsPerEncounter: CountRange;
  conditionsPerPatient: CountRange;
  proceduresPerPatient: CountRange;
  medicationRequestsPerPatient: CountRange;
  immunizationsPerPatient: CountRange;
  allergyIntolerancesPerPatient: CountRange;
  /** Share of Observations with status `amended` instead of `final`, 0..1. */
  amendedObservationRatio: number;
}

export const DEFAULT_MIX: Readonly<ResourceMix> = Object.freeze({
  encountersPerPatient: [2, 5] as const,
  observationsPerEncounter: [3, 4] as const,
  conditionsPerPatient: [1, 3] as const,
  proceduresPerPatient: [0, 2] as const,
  medicationRequestsPerPatient: [1, 3] as const,
  immunizationsPerPatient: [1, 3] as const,
  allergyIntolerancesPerPatient: [0, 2] as const,
  amendedObservationRatio: 0.1,
});

/** Default window of `meta.lastUpdated`. */
export const DEFAULT_WINDOW = Object.freeze({
  start: '2024-01-01T00:00:00.000Z',
  end: '2025-12-31T23:59:59.999Z',
});

export interface DatasetOptions {
  /** Number of patients to generate. */
  patients: number;
  /** Any integer; same seed → identical output. Default 1. */
  seed?: number;
  /** Number of the first patient (1-based), to generate a slice of a larger dataset. Default 1. */
  firstPatient?: number;
  /** Per-patient resource mix; missing entries fall back to DEFAULT_MIX. */
  mix?: Partial<ResourceMix>;
  /** Window for `meta.lastUpdated` (ISO instants, inclusive). Default DEFAULT_WINDOW. */
  lastUpdatedWindow?: { start: string; end: string };
}

/** The options with every default filled in and every value checked. */
export interface ResolvedOptions {
  seed: number;
  firstPatient: number;
  patients: number;
  mix: ResourceMix;
  windowStart: number;
  windowSpan: number;
}

export function resolveOptions(options: DatasetOptions): ResolvedOptions {
  const { patients } = options;
  if (!Number.isInteger(patients) || patients < 0)
    throw new RangeError('patients must be a non-negative integer');
  const firstPatient = options.firstPatient ?? 1;
  if (!Number.isInteger(firstPatient) || firstPatient < 1) throw new RangeError('firstPatient must be >= 1');
  const seed = options.seed ?? 1;
  if (!Number.isFinite(seed)) throw new RangeError('seed must be a finite number');
  const window = options.lastUpdatedWindow ?? DEFAULT_WINDOW;
  const windowStart = Date.parse(window.start);
  const windowEnd = Date.parse(window.end);
  if (!Number.isFinite(windowStart) || !Number.isFinite(windowEnd) || windowEnd < windowStart) {
    throw new RangeError('lastUpdatedWindow must be two ISO instants, start <= end');
  }
  return {
    seed,
    firstPatient,
    patients,
    mix: resolveMix(options.mix),
    windowStart,
    windowSpan: windowEnd - windowStart,
  };
}

function resolveMix(mix: Partial<ResourceMix> | undefined): ResourceMix {
  const resolved: ResourceMix = { ...DEFAULT_MIX, ...(mix ?? {}) };
  for (const [name, value] of Object.entries(resolved)) {
    if (name === 'amendedObservationRatio') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new RangeError('amendedObservationRatio must be between 0 and 1');
      }
      continue;
    }
    const [min, max] = value as CountRange;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
      throw new RangeError(`${name} must be an integer range [min, max] with 0 <= min <= max`);
    }
  }
  return resolved;
}
