/**
 * What the chaos test does, drawn from one seed: the exports it kicks off and the disruptions it
 * applies, each after the source has answered a drawn number of further requests (a point in the
 * exports' progress, not a moment in time). The same seed gives the same plan.
 */
import { Random } from '../../dev/demo/syntheticRandom';
import { patientId } from '../../dev/demo/syntheticPatient';
import { CHAOS_GROUP_ID, CHAOS_PATIENTS, CHAOS_SINCES, CHAOS_TYPES } from './chaosData';

/** The seed of this run: `CHAOS_SEED` when set, else a fresh one. */
export function chaosSeed(): number {
  const given = process.env.CHAOS_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed)) throw new Error(`CHAOS_SEED must be an integer, not '${given}'`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

export interface ExportSpec {
  /** '$export', 'Patient/$export' or 'Group/{id}/$export'. */
  path: string;
  query?: string;
  /** A POST body (Parameters). */
  body?: unknown;
}

/** How the source fails while it is down. */
export type SourceFault = 'unavailable' | 'error' | 'throttled' | 'truncated' | 'reset';

export type Disruption =
  | { kind: 'kill-host' }
  | { kind: 'kill-worker' }
  | { kind: 'reset-stores' }
  | { kind: 'stores-down'; ms: number }
  | { kind: 'source-down'; fault: SourceFault; ms: number }
  /** DELETE one of the started jobs: `pick` modulo the jobs not yet cancelled. */
  | { kind: 'cancel'; pick: number };

export interface ScheduledDisruption {
  /** Source requests to wait for after the previous disruption. */
  afterRequests: number;
  disruption: Disruption;
}

function shuffle<T>(rng: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Twenty exports of every kind: system, `_type`, `_since`, both, Patient, Group. */
export function chaosExports(rng: Random): ExportSpec[] {
  const types = () => shuffle(rng, [...CHAOS_TYPES]).slice(0, rng.int(1, 3));
  const since = () => `_since=${encodeURIComponent(rng.pick(CHAOS_SINCES))}`;
  const typeQuery = () => `_type=${types().join(',')}`;
  const times = (n: number, spec: () => ExportSpec) => Array.from({ length: n }, spec);
  const onePatient = () => ({
    resourceType: 'Parameters',
    parameter: [
      { name: 'patient', valueReference: { reference: `Patient/${patientId(rng.int(1, CHAOS_PATIENTS))}` } },
    ],
  });
  return shuffle(rng, [
    ...times(4, () => ({ path: '$export' })),
    ...times(4, () => ({ path: '$export', query: typeQuery() })),
    ...times(3, () => ({ path: '$export', query: since() })),
    ...times(2, () => ({ path: '$export', query: `${typeQuery()}&${since()}` })),
    ...times(2, () => ({ path: 'Patient/$export' })),
    { path: 'Patient/$export', query: typeQuery() },
    { path: 'Patient/$export', body: onePatient() },
    ...times(3, () => ({ path: `Group/${CHAOS_GROUP_ID}/$export` })),
  ]);
}

function sourceDown(rng: Random): Disruption {
  const faults: SourceFault[] = ['unavailable', 'error', 'throttled', 'truncated', 'reset'];
  return { kind: 'source-down', fault: rng.pick(faults), ms: rng.int(1000, 6000) };
}

/**
 * About ten disruptions: one or two app kills among the first (so they hit running exports), store
 * connections reset and refused, source outages, and two or three cancels. A second kill comes right
 * after the first restart, while the new host takes over: every takeover waits for the dead host's
 * partition leases to expire (30 s and more), so a kill apart would cost that wait again.
 */
export function chaosSchedule(rng: Random): ScheduledDisruption[] {
  const step = (disruption: Disruption, afterRequests = rng.int(4, 24)): ScheduledDisruption[] => [
    { afterRequests, disruption },
  ];
  const kill = (): Disruption => ({ kind: rng.chance(0.5) ? 'kill-host' : 'kill-worker' });
  const cancel = (): Disruption => ({ kind: 'cancel', pick: rng.int(0, 1000) });
  const storesDown = (): Disruption => ({ kind: 'stores-down', ms: rng.int(1000, 5000) });
  const kills = [...step(kill()), ...(rng.chance(0.5) ? step(kill(), 0) : [])];
  const first = shuffle(rng, [kills, step(storesDown()), step(sourceDown(rng))]);
  const rest = [step({ kind: 'reset-stores' }), step(sourceDown(rng)), step(cancel()), step(cancel())];
  if (rng.chance(0.5)) rest.push(step(cancel()));
  const extras = [(): Disruption => ({ kind: 'reset-stores' }), storesDown, () => sourceDown(rng)];
  while (first.length + rest.length < 9) rest.push(step(rng.pick(extras)()));
  return [...first, ...shuffle(rng, rest)].flat();
}

/** One line per disruption, for the test's output. */
export function describeDisruption(d: Disruption): string {
  switch (d.kind) {
    case 'stores-down':
      return `stores-down ${d.ms} ms`;
    case 'source-down':
      return `source-down (${d.fault}) ${d.ms} ms`;
    case 'cancel':
      return `cancel #${d.pick}`;
    default:
      return d.kind;
  }
}
