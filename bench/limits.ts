/**
 * The two limits an export cannot beat, each measured in a process of its own (like the app):
 *
 *   read   page through every unit with the product's FhirRestSource (same `_count`), keeping
 *          nothing: the source side alone.
 *   write  stage + commit the same NDJSON to Azurite with the product's BlobExportDestination and
 *          block ids (block list grows per page, each commit conditional on the blob's last etag,
 *          files roll at the same size, one file series per unit): the destination side alone. The bytes are fetched before the clock starts.
 *
 * Both run the export's own plan: its units (a large type split into the same time ranges, from the
 * source's description and the product's `planRanges`) dealt into the same number of lanes by the
 * product's `dealIntoLanes`, each lane working through its units in turn. A limit with a cruder plan
 * (whole types, round-robin) would have a long single-lane tail that the export does not have.
 *
 * Usage: node dist/bench/limits.js read|write '<json options>'; prints `RESULT {json}`.
 */
import { BlobExportDestination } from '../src/destination/blobExportDestination';
import { blockId } from '../src/destination/blockIds';
import type { PlannedUnit } from '../src/export/model';
import { dealIntoLanes, typeUnits, type RangeSettings } from '../src/export/rangePlan';
import { FhirRestSource } from '../src/sources/fhirRestSource';
import type { SearchPage, SearchParameters } from '../src/sources/searchSource';

export interface LimitOptions {
  sourceUrl: string;
  count: number;
  parallelism: number;
  /** The export's range settings (threshold, ranges per type). */
  ranges: RangeSettings;
  storageConnectionString?: string;
  container?: string;
  rollBytes?: number;
  /**
   * Untimed warm-up first: the resources updated at or after this instant are read (read limit) or
   * written (write limit) the same way, so that the timed part runs warm like the export.
   */
  warmUpSince?: string;
}

export interface LimitResult {
  resources: number;
  bytes: number;
  pages: number;
  seconds: number;
  /** CPU seconds of this process during the timed part. */
  cpuSeconds?: number;
}

export const RESULT_PREFIX = 'RESULT ';
/** Printed when the timed part starts, so that the parent meters the other processes from then on. */
export const CLOCK_STARTED = 'CLOCK STARTED';
/** Printed when the timed part ends: clean-up after it (deleting what was written) is not metered. */
export const CLOCK_STOPPED = 'CLOCK STOPPED';

/** Marks the start of the timed part (see CLOCK_STARTED) and returns this process's CPU baseline. */
function startClock(): NodeJS.CpuUsage {
  process.stdout.write(`${CLOCK_STARTED}\n`);
  return process.cpuUsage();
}

let timedCpu = 0;

/** Marks the end of the timed part (see CLOCK_STOPPED) and keeps this process's CPU seconds in it. */
function stopClock(start: NodeJS.CpuUsage): void {
  const used = process.cpuUsage(start);
  timedCpu = (used.user + used.system) / 1e6;
  process.stdout.write(`${CLOCK_STOPPED}\n`);
}

/** The export's units for everything the source holds up to `until`, dealt into lanes as the export deals them. */
async function plannedLanes(
  source: FhirRestSource,
  until: string,
  options: LimitOptions,
): Promise<PlannedUnit[][]> {
  const units: PlannedUnit[] = [];
  for (const resourceType of await source.listResourceTypes()) {
    const params = { until, typeFilters: [], count: options.count };
    const description = await source.describe(resourceType, params, options.ranges.threshold);
    units.push(...typeUnits(resourceType, description, until, options.ranges));
  }
  return dealIntoLanes(units, options.parallelism);
}

/** Runs `work` for every unit, the lanes at once, each lane's units one after another. */
async function inLanes(lanes: PlannedUnit[][], work: (unit: PlannedUnit) => Promise<void>): Promise<void> {
  await Promise.all(
    lanes.map(async (lane) => {
      for (const unit of lane) await work(unit);
    }),
  );
}

/** The search parameters of a unit: the whole type, or its time range. */
function unitParams(unit: PlannedUnit, until: string, count: number): SearchParameters {
  return {
    until,
    typeFilters: [],
    count,
    ...(unit.rangeStart !== undefined ? { since: unit.rangeStart } : {}),
    ...(unit.rangeEnd !== undefined ? { before: unit.rangeEnd } : {}),
  };
}

/** Pages through one unit with the product's source, keeping nothing. */
async function readUnit(
  source: FhirRestSource,
  unit: PlannedUnit,
  params: SearchParameters,
  onPage: (page: SearchPage) => void = () => undefined,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await source.search(unit.resourceType, params, token);
    onPage(page);
    token = page.nextToken;
  } while (token !== undefined);
}

/** The warm-up window as one unit per type (`since` = the window's start). */
function warmUpUnits(lanes: PlannedUnit[][], since: string): PlannedUnit[] {
  const types = new Set(lanes.flat().map((unit) => unit.resourceType));
  return [...types].map((resourceType) => ({ unitId: resourceType, resourceType, rangeStart: since }));
}

async function readLimit(options: LimitOptions): Promise<LimitResult> {
  const source = new FhirRestSource({ baseUrl: options.sourceUrl });
  const until = new Date().toISOString();
  const lanes = await plannedLanes(source, until, options);
  if (options.warmUpSince !== undefined) {
    for (const unit of warmUpUnits(lanes, options.warmUpSince))
      await readUnit(source, unit, unitParams(unit, until, options.count));
  }
  const result: LimitResult = { resources: 0, bytes: 0, pages: 0, seconds: 0 };
  const cpu = startClock();
  const started = performance.now();
  await inLanes(lanes, (unit) =>
    readUnit(source, unit, unitParams(unit, until, options.count), (page) => {
      result.pages += 1;
      // Counted from the NDJSON the source laid out, as the page step uses it: building the
      // per-resource views would be work the export does not do.
      if (page.ndjson) {
        result.resources += page.ndjson.lines;
        result.bytes += page.ndjson.bytes.length;
        return;
      }
      result.resources += page.resources.length;
      for (const line of page.resources) result.bytes += Buffer.byteLength(line) + 1;
    }),
  );
  result.seconds = (performance.now() - started) / 1000;
  stopClock(cpu);
  return result;
}

async function pagesOf(sourceUrl: string, unit: PlannedUnit, count: number): Promise<Buffer[]> {
  const window = new URLSearchParams();
  if (unit.rangeStart !== undefined) window.set('since', unit.rangeStart);
  if (unit.rangeEnd !== undefined) window.set('before', unit.rangeEnd);
  const response = await fetch(`${sourceUrl}/_bench/ndjson/${unit.resourceType}?${window.toString()}`);
  const all = Buffer.from(await response.arrayBuffer());
  const pages: Buffer[] = [];
  let start = 0;
  let lines = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 0x0a) continue;
    lines += 1;
    if (lines === count) {
      pages.push(all.subarray(start, i + 1));
      start = i + 1;
      lines = 0;
    }
  }
  if (start < all.length) pages.push(all.subarray(start));
  return pages;
}

/**
 * Writes one unit's pages as the page step does: a block per page, the block list growing per page
 * and each commit conditional on the blob's last version, a new file past `rollBytes`.
 */
async function writeUnit(
  destination: BlobExportDestination,
  prefix: string,
  unitId: string,
  pages: Buffer[],
  rollBytes: number,
): Promise<void> {
  let part = 1;
  let ids: string[] = [];
  let etag: string | undefined;
  let fileBytes = 0;
  for (let page = 0; page < pages.length; page++) {
    const data = pages[page];
    if (fileBytes > 0 && fileBytes + data.length > rollBytes) {
      part += 1;
      ids = [];
      etag = undefined;
      fileBytes = 0;
    }
    const blob = `${prefix}/${unitId}-${part}.ndjson`;
    const id = blockId(prefix, unitId, part, page);
    await destination.stageBlock(blob, id, data);
    ids.push(id);
    etag = await destination.commitBlocks(blob, ids, etag ? { etag } : 'new');
    fileBytes += data.length;
  }
}

async function writeLimit(options: LimitOptions): Promise<LimitResult> {
  const source = new FhirRestSource({ baseUrl: options.sourceUrl });
  const lanes = await plannedLanes(source, new Date().toISOString(), options);
  const pagesByUnit = new Map<string, Buffer[]>();
  const result: LimitResult = { resources: 0, bytes: 0, pages: 0, seconds: 0 };
  for (const unit of lanes.flat()) {
    const pages = await pagesOf(options.sourceUrl, unit, options.count);
    for (const page of pages) {
      for (const byte of page) if (byte === 0x0a) result.resources += 1;
      result.bytes += page.length;
    }
    result.pages += pages.length;
    pagesByUnit.set(unit.unitId, pages);
  }
  const destination = BlobExportDestination.fromSettings({
    connectionString: options.storageConnectionString,
    container: options.container ?? 'bench-write-limit',
  });
  await destination.ensureReady();
  const rollBytes = options.rollBytes ?? 64 * 1024 * 1024;
  if (options.warmUpSince !== undefined) {
    const prefix = `write-limit-warm-up-${Date.now()}`;
    for (const unit of warmUpUnits(lanes, options.warmUpSince)) {
      const pages = await pagesOf(options.sourceUrl, unit, options.count);
      await writeUnit(destination, prefix, unit.unitId, pages, rollBytes);
    }
    await destination.deletePrefix(`${prefix}/`);
  }
  const jobId = `write-limit-${Date.now()}`;
  const cpu = startClock();
  const started = performance.now();
  await inLanes(lanes, (unit) =>
    writeUnit(destination, jobId, unit.unitId, pagesByUnit.get(unit.unitId) ?? [], rollBytes),
  );
  result.seconds = (performance.now() - started) / 1000;
  stopClock(cpu);
  await destination.deletePrefix(`${jobId}/`);
  return result;
}

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const options = JSON.parse(json ?? '{}') as LimitOptions;
  const result =
    mode === 'read' ? await readLimit(options) : mode === 'write' ? await writeLimit(options) : undefined;
  if (!result) throw new Error(`unknown mode ${mode}; use read or write`);
  result.cpuSeconds = timedCpu;
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
