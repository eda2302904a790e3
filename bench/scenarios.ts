/**
 * What the bench measures per dataset: for each size, the read and write limits and the export
 * against the benchmark FHIR endpoint, with the ceiling they set; and one small export with the
 * Cosmos DB emulator as the source.
 */
import { cpus } from 'node:os';
import type { RunningAzurite, RunningCosmosEmulator } from '../dev/runtime/emulators';
import { createCosmosResourceWriter } from '../dev/demo/cosmosResourceWriter';
import { exportConfigFromEnv } from '../src/config';
import { getCosmosClient } from '../src/jobs/cosmosClient';
import type { BenchEngine } from './appProcess';
import { exportCeiling } from './ceiling';
import { buildDataset, resourceText, warmUpWindow, type BenchDataset } from './dataset';
import { runExport } from './exportPhase';
import { limit, limitCost } from './limitPhase';
import type { LimitOptions } from './limits';
import { startPagingServer } from './pagingServer';
import { MB, coresLine, fmt, log, short, type SizeResult } from './report';
import { TYPE_PARALLELISM, type Args } from './settings';

/**
 * Resources the untimed warm-up of the export and of each limit goes through first (the newest
 * ones): enough pages for the JIT to compile the page path, so that all three are measured warm.
 */
const WARM_UP_RESOURCES = 20_000;

/** One size: dataset → paging server → read limit → write limit → export → ceiling. */
export async function benchSize(
  size: number,
  args: Args,
  azurite: RunningAzurite,
  cosmos: RunningCosmosEmulator,
): Promise<SizeResult> {
  const label = short(size);
  log(`${label}: building the dataset`);
  let dataset: BenchDataset | undefined = buildDataset(size, 1, (done) =>
    log(`${label}: generated ${fmt(done)}`),
  );
  const datasetBytes = dataset.ndjsonBytes;
  const largeResources = dataset.largeResources;
  log(
    `${label}: ${fmt(dataset.total)} resources, ${fmt(datasetBytes / MB, 1)} MiB as NDJSON, ${largeResources} of 100+ KB, ${dataset.types.size} types`,
  );
  const server = await startPagingServer(dataset);
  const warmUp = warmUpWindow(dataset, WARM_UP_RESOURCES);
  dataset = undefined;
  try {
    const options: LimitOptions = {
      sourceUrl: server.baseUrl,
      count: args.pageSize,
      parallelism: TYPE_PARALLELISM,
      // The app's own range settings (its defaults, or what `--app-env` sets), so the limits run its plan.
      ranges: rangeSettingsOf(args.appEnv),
      storageConnectionString: azurite.storageConnectionString,
      container: `bench-limit-${Date.now()}`,
      warmUpSince: warmUp.since,
    };
    log(
      `${label}: read limit (FhirRestSource paging, the export's units in ${TYPE_PARALLELISM} lanes, nothing written)`,
    );
    const readLimit = await limit('read', options, azurite.pid);
    log(
      `${label}: read limit ${fmt(readLimit.resourcesPerSecond)} resources/s, ${fmt(readLimit.mbPerSecond, 1)} MB/s (${coresLine(readLimit.cpu, readLimit.seconds)})`,
    );
    log(`${label}: write limit (stage + commit the same pages to Azurite, nothing read)`);
    const writeLimit = await limit('write', options, azurite.pid);
    log(
      `${label}: write limit ${fmt(writeLimit.resourcesPerSecond)} resources/s, ${fmt(writeLimit.mbPerSecond, 1)} MB/s (${coresLine(writeLimit.cpu, writeLimit.seconds)})`,
    );
    log(`${label}: export (app process, SOURCE_KIND=fhir)`);
    const figures = await runExport(
      label,
      {
        SOURCE_KIND: 'fhir',
        FHIR_SOURCE_URL: server.baseUrl,
        COSMOS_ENDPOINT: cosmos.cosmosEndpoint,
        COSMOS_KEY: cosmos.cosmosKey,
        COSMOS_DATABASE: `bench-${label.toLowerCase()}-${Date.now()}`,
        ...args.appEnv,
      },
      azurite,
      `bench-export-${Date.now()}`,
      { resources: size, ndjsonBytes: datasetBytes },
      args.pageSize,
      args.appNodeArgs,
      args.engine,
      warmUp,
      args.deidConfig,
    );
    const slower = Math.min(readLimit.resourcesPerSecond, writeLimit.resourcesPerSecond);
    const ceiling = exportCeiling(limitCost(readLimit), limitCost(writeLimit), cpus().length);
    const ceilingRate = size / ceiling.seconds;
    log(
      `${label}: ceiling ${fmt(ceilingRate)} resources/s, set by the ${ceiling.boundBy} (both limits' CPU over ${cpus().length} cores: ${fmt(ceiling.cpuBoundSeconds, 2)} s)`,
    );
    return {
      label,
      source: 'bench-fhir-endpoint',
      size,
      datasetBytes,
      largeResources,
      export: figures,
      readLimit,
      writeLimit,
      ratioToSlowerLimit: figures.resourcesPerSecond / slower,
      ceiling: { ...ceiling, resourcesPerSecond: ceilingRate },
      ratioToCeiling: figures.resourcesPerSecond / ceilingRate,
    };
  } finally {
    await server.close();
  }
}

/** A small export with the Cosmos DB emulator as the source: realism, not speed. */
export async function benchCosmosSource(
  size: number,
  pageSize: number,
  engine: BenchEngine,
  azurite: RunningAzurite,
  cosmos: RunningCosmosEmulator,
): Promise<SizeResult> {
  const label = `${short(size)} (Cosmos emulator source)`;
  const dataset = buildDataset(size, 2);
  const database = `bench-cosmos-src-${Date.now()}`;
  const writer = await createCosmosResourceWriter(
    getCosmosClient({ endpoint: cosmos.cosmosEndpoint, key: cosmos.cosmosKey }),
    database,
    'resources',
  );
  const resources: Array<{ resourceType: string; id: string }> = [];
  for (const data of dataset.types.values()) {
    for (let i = 0; i < data.count; i++) resources.push(JSON.parse(resourceText(data, i).toString('utf8')));
  }
  log(`${label}: loading ${fmt(resources.length)} resources into the emulator`);
  const written = await writer.upsertAll(resources as never);
  if (written.failed.length > 0) throw new Error(`seeding failed for ${written.failed.length} resources`);
  const figures = await runExport(
    label,
    {
      SOURCE_KIND: 'cosmos',
      COSMOS_ENDPOINT: cosmos.cosmosEndpoint,
      COSMOS_KEY: cosmos.cosmosKey,
      COSMOS_DATABASE: database,
      COSMOS_RESOURCES_CONTAINER: 'resources',
    },
    azurite,
    `bench-cosmos-${Date.now()}`,
    // The Cosmos source re-serialises the stored documents, so only the count is compared.
    { resources: size },
    pageSize,
    [],
    engine,
    warmUpWindow(dataset, Math.min(WARM_UP_RESOURCES, Math.ceil(size / 10))),
  );
  return {
    label,
    source: 'cosmos-emulator',
    size,
    datasetBytes: dataset.ndjsonBytes,
    largeResources: dataset.largeResources,
    export: figures,
  };
}

/** Range settings the app runs with, given the extra settings passed to it. */
function rangeSettingsOf(appEnv: Record<string, string>): { threshold: number; maxRanges: number } {
  const config = exportConfigFromEnv(appEnv);
  return { threshold: config.rangeSplitThreshold, maxRanges: config.maxRangesPerType };
}
