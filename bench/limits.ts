/**
 * The two limits an export cannot beat, each measured in a process of its own (like the app):
 *
 *   read   page through every type with the product's FhirRestSource (same `_count`, same number
 *          of types at once), keeping nothing: the source side alone.
 *   write  stage + commit the same NDJSON pages to Azurite with the product's BlobExportDestination
 *          and block ids (block list grows per page, files roll at the same size): the destination
 *          side alone. The bytes are fetched before the clock starts.
 *
 * Usage: node dist/bench/limits.js read|write '<json options>'; prints `RESULT {json}`.
 */
import { BlobExportDestination } from '../src/destination/blobExportDestination';
import { blockId } from '../src/destination/blockIds';
import { FhirRestSource } from '../src/sources/fhirRestSource';

export interface LimitOptions {
  sourceUrl: string;
  count: number;
  parallelism: number;
  storageConnectionString?: string;
  container?: string;
  rollBytes?: number;
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

let timedCpu = 0;

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** Runs `work` for every type, `parallelism` types at once, types dealt round-robin into lanes. */
async function inLanes(
  types: string[],
  parallelism: number,
  work: (type: string) => Promise<void>,
): Promise<void> {
  const lanes: string[][] = Array.from({ length: Math.min(parallelism, types.length) }, () => []);
  types.forEach((type, i) => lanes[i % lanes.length].push(type));
  await Promise.all(
    lanes.map(async (lane) => {
      for (const type of lane) await work(type);
    }),
  );
}

async function readLimit(options: LimitOptions): Promise<LimitResult> {
  const source = new FhirRestSource({ baseUrl: options.sourceUrl });
  const types = await source.listResourceTypes();
  const until = new Date().toISOString();
  const result: LimitResult = { resources: 0, bytes: 0, pages: 0, seconds: 0 };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await inLanes(types, options.parallelism, async (type) => {
    let token: string | undefined;
    do {
      const page = await source.search(type, { until, typeFilters: [], count: options.count }, token);
      token = page.nextToken;
      result.pages += 1;
      result.resources += page.resources.length;
      for (const line of page.resources) result.bytes += Buffer.byteLength(line) + 1;
    } while (token !== undefined);
  });
  result.seconds = (performance.now() - started) / 1000;
  timedCpu = cpuSecondsSince(cpu);
  return result;
}

async function pagesOf(sourceUrl: string, type: string, count: number): Promise<Buffer[]> {
  const response = await fetch(`${sourceUrl}/_bench/ndjson/${type}`);
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

async function writeLimit(options: LimitOptions): Promise<LimitResult> {
  const source = new FhirRestSource({ baseUrl: options.sourceUrl });
  const types = await source.listResourceTypes();
  const pagesByType = new Map<string, Buffer[]>();
  let lineCount = 0;
  for (const type of types) {
    const pages = await pagesOf(options.sourceUrl, type, options.count);
    for (const page of pages) for (const byte of page) if (byte === 0x0a) lineCount += 1;
    pagesByType.set(type, pages);
  }
  const destination = BlobExportDestination.fromSettings({
    connectionString: options.storageConnectionString,
    container: options.container ?? 'bench-write-limit',
  });
  await destination.ensureReady();
  const rollBytes = options.rollBytes ?? 64 * 1024 * 1024;
  const jobId = `write-limit-${Date.now()}`;
  const result: LimitResult = { resources: lineCount, bytes: 0, pages: 0, seconds: 0 };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await inLanes(types, options.parallelism, async (type) => {
    let part = 1;
    let ids: string[] = [];
    let fileBytes = 0;
    const pages = pagesByType.get(type) ?? [];
    for (let page = 0; page < pages.length; page++) {
      const data = pages[page];
      if (fileBytes > 0 && fileBytes + data.length > rollBytes) {
        part += 1;
        ids = [];
        fileBytes = 0;
      }
      const blob = `${jobId}/${type}-${part}.ndjson`;
      const id = blockId(jobId, type, part, page);
      await destination.stageBlock(blob, id, data);
      ids.push(id);
      await destination.commitBlocks(blob, ids);
      fileBytes += data.length;
      result.pages += 1;
      result.bytes += data.length;
    }
  });
  result.seconds = (performance.now() - started) / 1000;
  timedCpu = cpuSecondsSince(cpu);
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
