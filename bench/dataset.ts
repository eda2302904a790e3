/**
 * The benchmark's dataset: exactly `total` resources from the deterministic synthetic generator,
 * each padded with a generated narrative to a realistic size (1–2 KB), and every LARGE_EVERY-th
 * resource blown up to 100–160 KB. Kept pre-serialised, per type, as searchset Bundle entries in one
 * Buffer with offsets, so that serving a page is a slice, never a JSON.stringify. Each type's entries
 * are ordered by `meta.lastUpdated`, so a `_lastUpdated` window is a contiguous run of entries.
 */
import { generateDataset } from '../dev/demo/syntheticFhir';
import { mulberry32 } from '../dev/demo/syntheticRandom';

/** One resource in this many gets a large (100–160 KB) narrative. */
export const LARGE_EVERY = 2_500;
const ENTRY_HEAD = Buffer.from('{"resource":');
const ENTRY_TAIL = Buffer.from(',"search":{"mode":"match"}}');
const COMMA = Buffer.from(',');

export interface TypeData {
  count: number;
  /** Entries (`{"resource":…,"search":…}`) back to back, comma-separated. */
  entries: Buffer;
  /** Start of entry i in `entries`; `starts[count]` is the end of the last entry plus one (its comma). */
  starts: Float64Array;
  /** `meta.lastUpdated` of entry i in epoch milliseconds, ascending. */
  times: Float64Array;
}

export interface BenchDataset {
  seed: number;
  total: number;
  /** NDJSON bytes the export of everything produces (resource text plus one newline each). */
  ndjsonBytes: number;
  largeResources: number;
  /** Latest `meta.lastUpdated` in the dataset (ISO instant). */
  maxLastUpdated: string;
  types: Map<string, TypeData>;
}

/** A fixed block of filler text, cut at a deterministic offset for each narrative. */
const FILLER = (() => {
  const words = [
    'patient',
    'reports',
    'stable',
    'condition',
    'follow-up',
    'advised',
    'vitals',
    'within',
    'normal',
    'limits',
    'reviewed',
    'history',
    'medication',
    'adherence',
    'discussed',
    'plan',
    'return',
    'in',
    'two',
    'weeks',
    'no',
    'acute',
    'distress',
    'noted',
    'labs',
    'ordered',
    'and',
    'pending',
  ];
  const next = mulberry32(7);
  const parts: string[] = [];
  let length = 0;
  while (length < 400_000) {
    const word = words[Math.floor(next() * words.length)];
    parts.push(word);
    length += word.length + 1;
  }
  return parts.join(' ');
})();

function narrative(random: () => number, chars: number): { status: string; div: string } {
  const start = Math.floor(random() * (FILLER.length - chars - 1));
  return {
    status: 'generated',
    div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${FILLER.slice(start, start + Math.max(0, chars))}</p></div>`,
  };
}

/** Builds the dataset; `onProgress` is called every 100k resources. */
export function buildDataset(total: number, seed = 1, onProgress?: (done: number) => void): BenchDataset {
  const random = mulberry32(seed * 7919 + 1);
  const chunks = new Map<string, Array<{ time: number; json: Buffer }>>();
  let produced = 0;
  let ndjsonBytes = 0;
  let largeResources = 0;
  let maxLastUpdated = '';
  // Enough patients for any total (about 25 resources each); the loop stops at `total`.
  for (const resource of generateDataset({ patients: Math.ceil(total / 5) + 10, seed })) {
    if (produced >= total) break;
    produced += 1;
    if (resource.meta.lastUpdated > maxLastUpdated) maxLastUpdated = resource.meta.lastUpdated;
    const base = JSON.stringify(resource).length;
    const large = produced % LARGE_EVERY === 0;
    const target = large ? 100_000 + Math.floor(random() * 60_000) : 1_000 + Math.floor(random() * 1_000);
    const overhead = 95; // the text element's own markup, roughly
    const padded = { ...resource, text: narrative(random, target - base - overhead) };
    if (large) largeResources += 1;
    const json = Buffer.from(JSON.stringify(padded), 'utf8');
    ndjsonBytes += json.length + 1;
    let bucket = chunks.get(resource.resourceType);
    if (!bucket) chunks.set(resource.resourceType, (bucket = []));
    bucket.push({ time: Date.parse(resource.meta.lastUpdated), json });
    if (onProgress && produced % 100_000 === 0) onProgress(produced);
  }
  const types = new Map<string, TypeData>();
  for (const [type, bucket] of [...chunks].sort(([a], [b]) => a.localeCompare(b))) {
    bucket.sort((a, b) => a.time - b.time); // stable: equal instants keep the generator's order
    const starts = new Float64Array(bucket.length + 1);
    const times = new Float64Array(bucket.length);
    const parts: Buffer[] = [];
    bucket.forEach(({ time, json }, i) => {
      times[i] = time;
      starts[i + 1] = starts[i] + ENTRY_HEAD.length + json.length + ENTRY_TAIL.length + COMMA.length;
      parts.push(ENTRY_HEAD, json, ENTRY_TAIL, COMMA);
    });
    types.set(type, { count: bucket.length, entries: Buffer.concat(parts), starts, times });
    bucket.length = 0;
  }
  return { seed, total: produced, ndjsonBytes, largeResources, maxLastUpdated, types };
}

/** The newest resources of a dataset, as a `_since` window: what the warm-up runs export. */
export interface WarmUpWindow {
  /** `_since` instant (ISO): every resource updated at or after it is in the window. */
  since: string;
  /** How many resources the window holds (at least the number asked for, more on equal times). */
  resources: number;
}

/** The `_since` window of the newest `wanted` resources across all types (everything if fewer). */
export function warmUpWindow(dataset: BenchDataset, wanted: number): WarmUpWindow {
  const newest: number[] = [];
  for (const data of dataset.types.values()) {
    for (let i = Math.max(0, data.count - wanted); i < data.count; i++) newest.push(data.times[i]);
  }
  newest.sort((a, b) => b - a);
  const sinceMs = newest[Math.min(wanted, newest.length) - 1] ?? 0;
  let resources = 0;
  for (const data of dataset.types.values()) resources += data.count - firstEntryFrom(data, sinceMs);
  return { since: new Date(sinceMs).toISOString(), resources };
}

/** The resource text of entry `i` (a view into the entries buffer, no copy). */
export function resourceText(data: TypeData, i: number): Buffer {
  return data.entries.subarray(
    data.starts[i] + ENTRY_HEAD.length,
    data.starts[i + 1] - 1 - ENTRY_TAIL.length,
  );
}

/** The first entry whose time is at or after `ms` (`strict`: after it); `count` when there is none. */
export function firstEntryFrom(data: TypeData, ms: number, strict = false): number {
  let lo = 0;
  let hi = data.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (data.times[mid] < ms || (strict && data.times[mid] === ms)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Entries `from`..`to` (exclusive) as the inside of a JSON array (a view, no copy). */
export function entrySlice(data: TypeData, from: number, to: number): Buffer {
  if (to <= from) return Buffer.alloc(0);
  return data.entries.subarray(data.starts[from], data.starts[to] - 1);
}
