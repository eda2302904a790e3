/**
 * One measured export: the app in a process of its own, warmed up, then a full system export whose
 * wall time, CPU, memory and output are measured and checked against the dataset.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient, type Manifest } from '../dev/client/bulkDataClient';
import type { RunningAzurite } from '../dev/runtime/emulators';
import { getCosmosClient } from '../src/jobs/cosmosClient';
import { startApp, type BenchEngine } from './appProcess';
import type { WarmUpWindow } from './dataset';
import { cpuMeter, cpuOfTree, memoryOf, type CpuSplit } from './processMeter';
import { MB, coresLine, fmt, log, type DeidentifiedFigures, type ExportFigures } from './report';
import { TYPE_PARALLELISM } from './settings';
import { summariseTrace } from './traceSummary';

/** Exports the warm-up window (`_since`) and checks its count; returns its wall time. */
async function warmUpExport(client: BulkDataClient, window: WarmUpWindow): Promise<number> {
  const started = performance.now();
  const kickoff = await client.kickoff('$export', { query: `_since=${encodeURIComponent(window.since)}` });
  if (kickoff.status !== 202 || !kickoff.pollUrl)
    throw new Error(`warm-up kick-off answered ${kickoff.status}: ${kickoff.body}`);
  const manifest = await client.waitForManifest(kickoff.pollUrl, { minIntervalMs: 50, maxIntervalMs: 100 });
  const count = manifest.output.reduce((sum, o) => sum + (o.count ?? 0), 0);
  if (count !== window.resources)
    throw new Error(`the warm-up export found ${count} resources; expected ${window.resources}`);
  return (performance.now() - started) / 1000;
}

/** The `completedAt` of a job record (epoch ms), read from the job store the app used. */
async function jobCompletedAt(env: Record<string, string>, jobId: string): Promise<number | undefined> {
  try {
    const client = getCosmosClient({ endpoint: env.COSMOS_ENDPOINT, key: env.COSMOS_KEY });
    const container = client.database(env.COSMOS_DATABASE).container(env.COSMOS_JOBS_CONTAINER ?? 'jobs');
    const { resource } = await container.item(jobId, jobId).read<{ completedAt?: string }>();
    return resource?.completedAt ? Date.parse(resource.completedAt) : undefined;
  } catch {
    return undefined;
  }
}

/** One export from kick-off to manifest: its wall time (to the job's own completion stamp) and CPU. */
async function measuredExport(
  client: BulkDataClient,
  label: string,
  env: Record<string, string>,
  pid: number,
  azuritePid: number,
  query?: string,
): Promise<{ manifest: Manifest; jobId: string; kickedOffAt: number; seconds: number; cpu: CpuSplit }> {
  const meter = cpuMeter(azuritePid);
  const appCpu = cpuOfTree(pid);
  const started = performance.now();
  const kickedOffAt = Date.now();
  const kickoff = await client.kickoff('$export', query ? { query } : {});
  if (kickoff.status !== 202 || !kickoff.pollUrl)
    throw new Error(`kick-off answered ${kickoff.status}: ${kickoff.body}`);
  let lastPrint = 0;
  const manifest = await client.waitForManifest(kickoff.pollUrl, {
    timeoutMs: 4 * 3600_000,
    // Once a second: each poll costs the app job-store reads, and the wall time comes from the
    // job's own completion stamp, not from when a poll saw it (a real client waits Retry-After).
    minIntervalMs: 1000,
    maxIntervalMs: 1000,
    onProgress: (progress) => {
      const now = performance.now();
      if (now - lastPrint < 5000) return;
      lastPrint = now;
      const m = memoryOf(pid);
      log(`${label}: ${progress} | ${fmt((now - started) / 1000, 1)} s | app rss ${fmt(m?.rss ?? 0)} MiB`);
    },
  });
  const polledSeconds = (performance.now() - started) / 1000;
  const cpu = meter.stop({ app: cpuOfTree(pid) - appCpu });
  // Wall time from the kick-off to the job's own completion stamp (same clock), so that the
  // client's poll interval does not add up to half a second; the poll-based time is the fallback.
  const jobId = kickoff.pollUrl.split('/').pop() ?? '';
  const completedAt = await jobCompletedAt(env, jobId);
  const seconds =
    completedAt !== undefined && completedAt >= kickedOffAt
      ? (completedAt - kickedOffAt) / 1000
      : polledSeconds;
  return { manifest, jobId, kickedOffAt, seconds, cpu };
}

/**
 * The same export de-identified by the configuration file `configPath` (uploaded to the
 * `anonymization` container), in the same warm app process: its rate next to the plain one's.
 */
async function deidentifiedExport(
  client: BulkDataClient,
  label: string,
  env: Record<string, string>,
  pid: number,
  azurite: RunningAzurite,
  configPath: string,
  expectedResources: number,
  plainRate: number,
): Promise<DeidentifiedFigures> {
  const configs = BlobServiceClient.fromConnectionString(azurite.storageConnectionString).getContainerClient(
    'anonymization',
  );
  await configs.createIfNotExists();
  const name = `bench-${Date.now()}-${path.basename(configPath)}`;
  const text = readFileSync(configPath);
  await configs.getBlockBlobClient(name).upload(text, text.length);
  log(`${label}: de-identified export (${path.basename(configPath)}, same data, same app process)`);
  const { manifest, seconds, cpu } = await measuredExport(
    client,
    label,
    env,
    pid,
    azurite.pid,
    `_anonymizationConfig=${encodeURIComponent(name)}`,
  );
  const resources = manifest.output.reduce((sum, o) => sum + (o.count ?? 0), 0);
  if (resources !== expectedResources)
    throw new Error(
      `${label}: the de-identified export counts ${resources} resources, expected ${expectedResources}`,
    );
  const resourcesPerSecond = resources / seconds;
  log(
    `${label}: de-identified ${fmt(resourcesPerSecond)} resources/s in ${fmt(seconds, 1)} s (${coresLine(cpu, seconds)}); plain ${fmt(plainRate)} resources/s; ratio ${fmt(resourcesPerSecond / plainRate, 2)}`,
  );
  return { seconds, resourcesPerSecond, ratioToPlain: resourcesPerSecond / plainRate, cpu };
}

/** Starts the app, warms it up, runs and checks one full export, and stops the app. */
export async function runExport(
  label: string,
  env: Record<string, string>,
  azurite: RunningAzurite,
  container: string,
  expected: { resources: number; ndjsonBytes?: number },
  pageSize: number,
  nodeArgs: string[],
  engine: BenchEngine,
  warmUp?: WarmUpWindow,
  deidConfig?: string,
): Promise<ExportFigures> {
  const app = await startApp({
    engine,
    env: {
      EXPORT_RESOURCES_PER_PAGE: String(pageSize),
      EXPORT_TYPE_PARALLELISM: String(TYPE_PARALLELISM),
      ...env,
      EXPORT_STORAGE_CONNECTION_STRING: azurite.storageConnectionString,
      EXPORT_CONTAINER: container,
    },
    nodeArgs,
  });
  const pid = app.child.pid!;
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = memoryOf(pid);
    if (m) peakRss = Math.max(peakRss, m.rss, m.hwm);
  }, 200);
  try {
    const client = new BulkDataClient(app.apiBaseUrl);
    // Warm-up: an export of the newest WARM_UP_RESOURCES takes the fresh process through every code
    // path (clients, containers, modules, and the JIT of the page path: scanning, staging,
    // checkpoints), so the measured export sees a warm app, as a long-running Functions worker
    // would be. The limits warm up on the same window (bench/limits.ts).
    const coldStartSeconds = warmUp ? await warmUpExport(client, warmUp) : undefined;
    const plain = await measuredExport(client, label, env, pid, azurite.pid);
    const { manifest, jobId, kickedOffAt, seconds, cpu } = plain;
    const m = memoryOf(pid);
    if (m) peakRss = Math.max(peakRss, m.hwm);
    const resources = manifest.output.reduce((sum, o) => sum + (o.count ?? 0), 0);
    if (resources !== expected.resources)
      throw new Error(`${label}: manifest counts ${resources} resources, expected ${expected.resources}`);
    // The bytes really in storage (the manifest's URLs point at the app, which only streams them).
    const service = BlobServiceClient.fromConnectionString(azurite.storageConnectionString);
    let bytes = 0;
    let files = 0;
    // Only the measured job's files (the warm-up export wrote its own next to them).
    for await (const blob of service.getContainerClient(container).listBlobsFlat({ prefix: `${jobId}/` })) {
      bytes += blob.properties.contentLength ?? 0;
      files += 1;
    }
    await service.getContainerClient(container).deleteIfExists();
    if (expected.ndjsonBytes !== undefined && bytes !== expected.ndjsonBytes)
      throw new Error(
        `${label}: storage holds ${bytes} bytes, expected the dataset's ${expected.ndjsonBytes}`,
      );
    log(
      `${label}: done, ${fmt(resources)} resources in ${files} files (${fmt(bytes / MB, 1)} MiB), job ${jobId}`,
    );
    log(
      `${label}: ${fmt(resources / seconds)} resources/s in ${fmt(seconds, 1)} s (${coresLine(cpu, seconds)})${coldStartSeconds !== undefined ? `; warm-up export ${fmt(coldStartSeconds, 2)} s` : ''}`,
    );
    const deidentified = deidConfig
      ? await deidentifiedExport(client, label, env, pid, azurite, deidConfig, resources, resources / seconds)
      : undefined;
    const engineSummary = app.traceFile
      ? summariseTrace(
          app.traceFile,
          { from: kickedOffAt, to: kickedOffAt + seconds * 1000 },
          TYPE_PARALLELISM,
        )
      : undefined;
    if (engineSummary) {
      const e = engineSummary;
      log(
        `${label}: real engine: ${e.activities} activities ${fmt(e.activitySeconds, 1)} s, ${e.episodes} orchestrator episodes ${fmt(e.episodeSeconds, 1)} s, payloads ${fmt(e.payloadBytes / 1024)} KiB (largest ${fmt(e.largestPayloadBytes / 1024, 1)} KiB); engine time between page steps ${fmt(e.gapPerPageMs)} ms per page (${fmt(e.engineGapSeconds, 1)} lane-seconds)`,
      );
    }
    return {
      resources,
      bytes,
      seconds,
      resourcesPerSecond: resources / seconds,
      mbPerSecond: bytes / MB / seconds,
      peakRssMb: peakRss,
      pages: Math.ceil(resources / pageSize),
      cpu,
      coldStartSeconds,
      engine: engineSummary,
      deidentified,
    };
  } finally {
    clearInterval(sampler);
    await app.stop();
  }
}
