/**
 * `npm run bench:scanner`: the searchset scanner (src/sources/searchsetScanner.ts) against
 * `JSON.parse` of the whole page, on the same page bodies, for what the REST source takes from a
 * page: the matched resources as NDJSON, the next link and the total.
 *
 *   npm run bench:scanner -- [--entries 1000,5000] [--reps 21] [--out FILE]
 *
 * Variants, each from the body bytes as the transport reads them:
 *   scanner           parseSearchsetBytes, then the laid-out NDJSON block (or the lines encoded)
 *   JSON.parse        JSON.parse of the decoded body, then JSON.stringify of each matched resource
 *                     and the lines encoded as NDJSON, as the source does without the scanner
 *   JSON.parse only   the parse alone, no lines: the floor of any approach that builds the page
 *
 * Timing: the variants run interleaved, their order rotating per repetition, so that load from
 * elsewhere on the machine hits them alike; figures are medians of wall and CPU time. The body is
 * copied into one reused buffer before each run, outside the clock (the scanner rewrites its body).
 *
 * Memory: a child process whose young generation is large enough that no collection runs during a
 * page measures, per run, the heap and array buffer bytes a page allocates (garbage included: an
 * upper bound of its peak) and what stays while the page's result is held (after a forced
 * collection): the lines or raw resources and the NDJSON, which live through the page's write.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { generateDataset } from '../dev/demo/syntheticFhir';
import { mulberry32 } from '../dev/demo/syntheticRandom';
import type { FhirResource } from '../dev/demo/syntheticTypes';
import { ndjsonBuffer } from '../src/export/ndjson';
import { laidOutNdjson, parseSearchsetBytes, resourceLine } from '../src/sources/searchsetScanner';

const MB = 1024 * 1024;
const MEMORY_FLAG = '--memory';
/** Young generation per semi-space in the memory process (MB): more than a 5000-entry page allocates. */
const SEMI_SPACE_MB = 128;

interface Page {
  name: string;
  type: string;
  entries: number;
  body: Buffer;
}

/** What a page step keeps from a page: its NDJSON, what holds its lines, the next link, the total. */
interface PageResult {
  ndjson: Buffer;
  kept: readonly unknown[];
  next?: string;
  total?: number;
}

type Variant = { name: string; run: (body: Buffer, type: string) => PageResult };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The same filter and link look-up as the REST source. */
function extract(
  bundle: unknown,
  type: string,
): { matched: Record<string, unknown>[]; next?: string; total?: number } {
  if (!isRecord(bundle) || bundle.resourceType !== 'Bundle') throw new Error('not a Bundle');
  const matched: Record<string, unknown>[] = [];
  for (const entry of (bundle.entry as unknown[] | undefined) ?? []) {
    if (!isRecord(entry) || !isRecord(entry.resource)) continue;
    const mode = isRecord(entry.search) ? entry.search.mode : undefined;
    if ((mode === undefined || mode === 'match') && entry.resource.resourceType === type) {
      matched.push(entry.resource);
    }
  }
  const link = Array.isArray(bundle.link)
    ? bundle.link.find((l) => isRecord(l) && l.relation === 'next' && typeof l.url === 'string')
    : undefined;
  const next = isRecord(link) ? (link.url as string) : undefined;
  const total = typeof bundle.total === 'number' ? bundle.total : undefined;
  return { matched, next, total };
}

const VARIANTS: Variant[] = [
  {
    name: 'scanner',
    run: (body, type) => {
      const bundle = parseSearchsetBytes(body) ?? JSON.parse(body.toString('utf8'));
      const { matched, next, total } = extract(bundle, type);
      const ndjson = laidOutNdjson(bundle as object, matched) ?? ndjsonBuffer(matched.map(resourceLine));
      return { ndjson, kept: matched, next, total };
    },
  },
  {
    name: 'JSON.parse',
    run: (body, type) => {
      const { matched, next, total } = extract(JSON.parse(body.toString('utf8')), type);
      const lines = matched.map((r) => JSON.stringify(r));
      return { ndjson: ndjsonBuffer(lines), kept: lines, next, total };
    },
  },
  {
    name: 'JSON.parse only',
    run: (body, type) => {
      const { matched, next, total } = extract(JSON.parse(body.toString('utf8')), type);
      return { ndjson: Buffer.alloc(0), kept: matched, next, total };
    },
  },
];

/** Narrative words, some outside ASCII (two-, three- and four-byte UTF-8), as real notes have. */
const WORDS = [
  'patient',
  'reports',
  'stable',
  'condition',
  'follow-up',
  'advised',
  'vitals',
  'normal',
  'limits',
  'reviewed',
  'history',
  'medication',
  'discussed',
  'plan',
  'return',
  'in',
  'two',
  'weeks',
  'no',
  'acute',
  'distress',
  'labs',
  'pending',
  'réévaluation',
  'Größe',
  'naïve',
  'µg/dL',
  'Łódź',
  '血压正常',
  'è',
  '→',
  '😀',
  '"quoted"',
  'line\nbreak',
  'tab\tstop',
];

/** The words without the ones outside ASCII: a page that decodes to a one-byte string. */
const ASCII_WORDS = WORDS.filter((word) => /^[\x20-\x7e\n\t]*$/.test(word));

/** `count` resources of `type` from the synthetic generator, each padded to 1–2 KB of narrative. */
function resourcesOf(type: string, count: number, words: readonly string[] = WORDS): FhirResource[] {
  const random = mulberry32(count * 31 + type.length);
  const result: FhirResource[] = [];
  for (const resource of generateDataset({ patients: count + 10, seed: 3 })) {
    if (resource.resourceType !== type) continue;
    const text: string[] = [];
    const target = 1_000 + Math.floor(random() * 1_000) - JSON.stringify(resource).length;
    for (let chars = 0; chars < target; ) {
      const word = words[Math.floor(random() * words.length)];
      text.push(word);
      chars += word.length + 1;
    }
    const div = `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text.join(' ')}</p></div>`;
    result.push({ ...resource, text: { status: 'generated', div } });
    if (result.length === count) return result;
  }
  throw new Error(`the generator gave fewer than ${count} ${type} resources`);
}

function bundleOf(type: string, resources: FhirResource[]): object {
  const base = 'https://fhir.example.org/r4';
  return {
    resourceType: 'Bundle',
    id: `page-${type}-${resources.length}`,
    meta: { lastUpdated: '2024-05-01T10:00:00Z' },
    type: 'searchset',
    total: resources.length * 20,
    link: [
      { relation: 'self', url: `${base}/${type}?_count=${resources.length}` },
      { relation: 'next', url: `${base}/${type}?_count=${resources.length}&_page_token=Q2FmZsOp` },
    ],
    entry: resources.map((resource) => ({
      fullUrl: `${base}/${type}/${resource.id}`,
      resource,
      search: { mode: 'match' },
    })),
  };
}

function buildPages(entryCounts: number[]): Page[] {
  const pages: Page[] = [];
  const add = (name: string, type: string, entries: number, bundle: object, indent?: number) =>
    pages.push({ name, type, entries, body: Buffer.from(JSON.stringify(bundle, null, indent)) });
  for (const entries of entryCounts) {
    for (const type of ['Observation', 'Patient']) {
      add(`${type} ${entries}`, type, entries, bundleOf(type, resourcesOf(type, entries)));
    }
    // Without any character outside ASCII, the decoded body is a one-byte string: JSON.parse's best case.
    add(
      `Observation ${entries} ascii`,
      'Observation',
      entries,
      bundleOf('Observation', resourcesOf('Observation', entries, ASCII_WORDS)),
    );
  }
  // A pretty-printed page takes the scanner's fallback (each resource re-serialised).
  const first = entryCounts[0];
  add(
    `Observation ${first} pretty`,
    'Observation',
    first,
    bundleOf('Observation', resourcesOf('Observation', first)),
    2,
  );
  return pages;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** One body's memory, reused by every run on it: the body is copied in before each run. */
function workBuffer(page: Page): Buffer {
  return Buffer.from(new ArrayBuffer(page.body.length), 0, page.body.length);
}

/** The variants agree on every page: same NDJSON bytes, next link and total. */
function checkAgreement(pages: Page[]): void {
  for (const page of pages) {
    const [scanned, parsed] = VARIANTS.slice(0, 2).map((v) => {
      const work = workBuffer(page);
      page.body.copy(work);
      const r = v.run(work, page.type);
      return { ...r, ndjson: Buffer.from(r.ndjson) };
    });
    const same =
      scanned.ndjson.equals(parsed.ndjson) && scanned.next === parsed.next && scanned.total === parsed.total;
    if (!same || scanned.kept.length !== page.entries) throw new Error(`variants disagree on ${page.name}`);
  }
}

interface Timing {
  wallMs: number[];
  cpuMs: number[];
}

function timeAll(pages: Page[], reps: number): Map<string, Timing> {
  const timings = new Map<string, Timing>();
  for (const page of pages) {
    const work = workBuffer(page);
    for (let rep = -3; rep < reps; rep++) {
      // Negative repetitions warm the JIT up, untimed.
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(k + Math.max(rep, 0)) % VARIANTS.length];
        page.body.copy(work);
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        variant.run(work, page.type);
        const wall = Number(process.hrtime.bigint() - start) / 1e6;
        const used = process.cpuUsage(cpu);
        if (rep < 0) continue;
        const key = `${page.name}|${variant.name}`;
        const t = timings.get(key) ?? { wallMs: [], cpuMs: [] };
        t.wallMs.push(wall);
        t.cpuMs.push((used.user + used.system) / 1000);
        timings.set(key, t);
      }
    }
  }
  return timings;
}

interface MemorySample {
  allocatedMb: number;
  retainedMb: number;
  collectionsDuringRun: number;
}

const heapAndBuffers = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Runs in the child process (`--expose-gc`, large young generation). */
async function measureMemory(pages: Page[], reps: number): Promise<Record<string, MemorySample>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the memory process needs --expose-gc');
  const collections: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const samples = new Map<string, { allocated: number[]; retained: number[]; collections: number }>();
  for (const page of pages) {
    const work = workBuffer(page);
    for (let rep = -1; rep < reps; rep++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(k + Math.max(rep, 0)) % VARIANTS.length];
        page.body.copy(work);
        gc();
        gc();
        await new Promise((resolve) => setImmediate(resolve)); // let the observer report the forced ones
        const base = heapAndBuffers();
        const startedAt = performance.now();
        let result: PageResult | undefined = variant.run(work, page.type);
        const allocated = heapAndBuffers() - base;
        const endedAt = performance.now();
        gc();
        const retained = heapAndBuffers() - base;
        if (result.kept.length === 0) throw new Error('nothing kept');
        result = undefined;
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (rep < 0) continue;
        const key = `${page.name}|${variant.name}`;
        const s = samples.get(key) ?? { allocated: [], retained: [], collections: 0 };
        s.allocated.push(allocated / MB);
        s.retained.push(retained / MB);
        s.collections += collections.filter((at) => at >= startedAt && at <= endedAt).length;
        samples.set(key, s);
      }
    }
  }
  observer.disconnect();
  const out: Record<string, MemorySample> = {};
  for (const [key, s] of samples) {
    out[key] = {
      allocatedMb: median(s.allocated),
      retainedMb: median(s.retained),
      collectionsDuringRun: s.collections,
    };
  }
  return out;
}

function parseArgs(argv: string[]): { entries: number[]; reps: number; out?: string; memory: boolean } {
  const args = { entries: [1000, 5000], reps: 21, out: undefined as string | undefined, memory: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--entries') args.entries = argv[++i].split(',').map(Number);
    else if (flag === '--reps') args.reps = Number(argv[++i]);
    else if (flag === '--out') args.out = argv[++i];
    else if (flag === MEMORY_FLAG) args.memory = true;
    else throw new Error(`unknown option ${flag}`);
  }
  if (args.entries.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error('--entries takes positive integers');
  if (!Number.isInteger(args.reps) || args.reps < 1) throw new Error('--reps takes a positive integer');
  return args;
}

const fixed = (n: number, digits = 1): string => n.toFixed(digits);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pages = buildPages(args.entries);
  if (args.memory) {
    process.stdout.write(JSON.stringify(await measureMemory(pages, args.reps)));
    return;
  }
  const loadBefore = loadavg();
  checkAgreement(pages);
  const timings = timeAll(pages, args.reps);
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      `--min-semi-space-size=${SEMI_SPACE_MB}`,
      `--max-semi-space-size=${SEMI_SPACE_MB}`,
      __filename,
      MEMORY_FLAG,
      '--entries',
      args.entries.join(','),
      '--reps',
      String(Math.max(5, Math.ceil(args.reps / 3))),
    ],
    { encoding: 'utf8', maxBuffer: 16 * MB },
  );
  if (child.status !== 0) throw new Error(`memory process failed: ${child.stderr}`);
  const memory = JSON.parse(child.stdout) as Record<string, MemorySample>;
  const loadAfter = loadavg();

  const rows = [];
  for (const page of pages) {
    for (const variant of VARIANTS) {
      const key = `${page.name}|${variant.name}`;
      const t = timings.get(key) as Timing;
      const wallMs = median(t.wallMs);
      const cpuMs = median(t.cpuMs);
      rows.push({
        page: page.name,
        bodyMb: page.body.length / MB,
        variant: variant.name,
        wallMs,
        cpuMs,
        mbPerSecond: page.body.length / MB / (wallMs / 1000),
        entriesPerSecond: page.entries / (wallMs / 1000),
        ...memory[key],
      });
    }
  }
  console.log(`load average (1 min) before ${fixed(loadBefore[0], 2)}, after ${fixed(loadAfter[0], 2)}`);
  console.log(
    `medians of ${args.reps} interleaved runs (memory: of ${Math.max(5, Math.ceil(args.reps / 3))})`,
  );
  console.log(
    [
      'page',
      'MB',
      'variant',
      'wall ms',
      'cpu ms',
      'MB/s',
      'entries/s',
      'alloc MB',
      'kept MB',
      'gc in run',
    ].join('\t'),
  );
  for (const r of rows) {
    console.log(
      [
        r.page,
        fixed(r.bodyMb, 2),
        r.variant,
        fixed(r.wallMs, 2),
        fixed(r.cpuMs, 2),
        fixed(r.mbPerSecond, 0),
        fixed(r.entriesPerSecond, 0),
        fixed(r.allocatedMb),
        fixed(r.retainedMb),
        r.collectionsDuringRun,
      ].join('\t'),
    );
  }
  if (args.out) {
    writeFileSync(args.out, JSON.stringify({ loadBefore, loadAfter, reps: args.reps, rows }, null, 2));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
