/**
 * `npm run bench`: full system exports on the local runtime, against a benchmark FHIR endpoint,
 * into Azurite, with the two limits (read-only, write-only) measured in the same run.
 *
 *   npm run bench -- [--sizes 10000,100000,1000000] [--cosmos-source 5000] [--cpu-prof DIR]
 *                    [--app-env NAME=value] [--app-node-arg --flag] [--page-size N]
 *                    [--out bench-results.json] [--engine embedded|real]
 *
 * Per size: build the dataset → serve it (bench/pagingServer.ts) → read limit → write limit →
 * export with the app process (appHost, SOURCE_KIND=fhir), sampling its RSS → verify the manifest
 * counts and the bytes in storage. Then one small export with the Cosmos DB emulator as the source
 * (realism only; the emulator is no yardstick for speed). The job store is the in-process Cosmos
 * emulator throughout (a few documents per page); Azurite keeps its data on disk in a temp folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { BulkDataClient } from '../dev/client/bulkDataClient';
import { getCosmosClient } from '../src/jobs/cosmosClient';
import {
  startAzurite,
  startCosmosEmulator,
  type RunningAzurite,
  type RunningCosmosEmulator,
} from '../dev/runtime/emulators';
import { createCosmosResourceWriter } from '../dev/demo/cosmosResourceWriter';
import { exportCeiling, type Ceiling, type LimitCost } from './ceiling';
import { buildDataset, resourceText, warmUpWindow, type BenchDataset, type WarmUpWindow } from './dataset';
import { CLOCK_STARTED, CLOCK_STOPPED, RESULT_PREFIX, type LimitOptions, type LimitResult } from './limits';
import { exportConfigFromEnv } from '../src/config';
import { startPagingServer } from './pagingServer';
import { processTree, startApp, type BenchEngine } from './appProcess';
import { summariseTrace, type TraceSummary } from './traceSummary';
import { DOTNET_MISSING, buildEngineHost, dotnetSdkAvailable } from '../engine/launch';
const LIMITS = path.join(__dirname, 'limits.js');
/** The app's own default, so that a plain `npm run bench` measures what a deployment runs. */
const DEFAULT_PAGE_SIZE = exportConfigFromEnv({}).resourcesPerPage;
const TYPE_PARALLELISM = 4;
const MB = 1024 * 1024;
/**
 * Resources the untimed warm-up of the export and of each limit goes through first (the newest
 * ones): enough pages for the JIT to compile the page path, so that all three are measured warm.
 */
const WARM_UP_RESOURCES = 20_000;

interface Args {
  sizes: number[];
  cosmosSource: number;
  /** Node options of the app process (`--cpu-prof DIR`, `--app-node-arg`). */
  appNodeArgs: string[];
  out: string;
  pageSize: number;
  /** Extra app settings (`--app-env NAME=value`, repeatable), e.g. to compare a setting on and off. */
  appEnv: Record<string, string>;
  /** The durable runtime of the export: the embedded one, or the real Durable Task extension. */
  engine: BenchEngine;
}

/** CPU seconds used during a phase, per process (the machine's cores are shared by all of them). */
interface CpuSplit {
  app?: number;
  limitProcess?: number;
  azurite: number;
  /** This process: the paging server and the Cosmos emulator (job store). */
  benchProcess: number;
}

interface ExportFigures {
  resources: number;
  bytes: number;
  seconds: number;
  resourcesPerSecond: number;
  mbPerSecond: number;
  peakRssMb: number;
  pages: number;
  cpu?: CpuSplit;
  /** Wall time of the warm-up export (the newest resources) that ran first in the fresh app process. */
  coldStartSeconds?: number;
  /** Real engine only: where the export's time went (bench/traceSummary.ts). */
  engine?: TraceSummary;
}

type LimitFigures = LimitResult & { resourcesPerSecond: number; mbPerSecond: number; cpu: CpuSplit };

interface SizeResult {
  label: string;
  source: 'bench-fhir-endpoint' | 'cosmos-emulator';
  size: number;
  datasetBytes: number;
  largeResources: number;
  export: ExportFigures;
  readLimit?: LimitFigures;
  writeLimit?: LimitFigures;
  /** Export rate over the slower limit's rate (resources per second). */
  ratioToSlowerLimit?: number;
  /** The fastest an export can go here, from both limits' time and CPU (see bench/ceiling.ts). */
  ceiling?: Ceiling & { resourcesPerSecond: number };
  /** Export rate over the ceiling's rate. */
  ratioToCeiling?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: [10_000, 100_000, 1_000_000],
    cosmosSource: 5_000,
    out: 'bench-results.json',
    pageSize: DEFAULT_PAGE_SIZE,
    appEnv: {},
    appNodeArgs: [],
    engine: 'embedded',
  };
  for (let i = 0; i < argv.length; i++) {
    // `--flag=value` or `--flag value`; the value may hold `=` itself (`--app-env=NAME=value`).
    const eqAt = argv[i].indexOf('=');
    const flag = eqAt < 0 ? argv[i] : argv[i].slice(0, eqAt);
    const inline = eqAt < 0 ? undefined : argv[i].slice(eqAt + 1);
    const value = (): string => inline ?? argv[++i];
    if (flag === '--sizes')
      args.sizes = value()
        .split(',')
        .map((s) => Number(s.trim()));
    else if (flag === '--cosmos-source') args.cosmosSource = Number(value());
    else if (flag === '--cpu-prof')
      args.appNodeArgs.push('--cpu-prof', '--cpu-prof-dir', path.resolve(value()));
    else if (flag === '--app-node-arg') args.appNodeArgs.push(value());
    else if (flag === '--out') args.out = value();
    else if (flag === '--page-size') args.pageSize = Number(value());
    else if (flag === '--engine') {
      const engine = value();
      if (engine !== 'embedded' && engine !== 'real') throw new Error('--engine takes embedded or real');
      args.engine = engine;
    } else if (flag === '--app-env') {
      const setting = value();
      const eq = setting.indexOf('=');
      if (eq < 1) throw new Error('--app-env takes NAME=value');
      args.appEnv[setting.slice(0, eq)] = setting.slice(eq + 1);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  if (args.sizes.some((s) => !Number.isInteger(s) || s < 1))
    throw new Error('--sizes takes positive integers');
  return args;
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const short = (n: number): string =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n);
const log = (line: string): void => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** VmRSS and VmHWM (peak) of a process, in MiB; undefined once it is gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process and its descendants (the real-engine host and its Node worker). */
function cpuOfTree(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuOfPid(p), 0);
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuOfPid(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Starts a CPU meter over Azurite and this process; `stop()` returns the split. */
function cpuMeter(azuritePid: number): { stop(extra?: Partial<CpuSplit>): CpuSplit } {
  const azurite = cpuOfPid(azuritePid);
  const self = process.cpuUsage();
  return {
    stop: (extra = {}) => {
      const used = process.cpuUsage(self);
      return {
        ...extra,
        azurite: cpuOfPid(azuritePid) - azurite,
        benchProcess: (used.user + used.system) / 1e6,
      };
    },
  };
}

/** `app 0.9 + azurite 0.6 + bench 0.3 = 1.8 cores`: average cores per process over a phase. */
function coresLine(cpu: CpuSplit, seconds: number): string {
  const parts: [string, number | undefined][] = [
    ['app', cpu.app],
    ['limit process', cpu.limitProcess],
    ['azurite', cpu.azurite],
    ['bench (server + Cosmos emulator)', cpu.benchProcess],
  ];
  const used = parts.filter((p): p is [string, number] => p[1] !== undefined);
  const total = used.reduce((sum, [, v]) => sum + v, 0);
  return `${used.map(([name, v]) => `${name} ${fmt(v / seconds, 2)}`).join(' + ')} = ${fmt(total / seconds, 2)} cores`;
}

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

function runChild(script: string, args: string[], onOutput: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      onOutput(out);
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}`)),
    );
  });
}

async function limit(
  mode: 'read' | 'write',
  options: LimitOptions,
  azuritePid: number,
): Promise<LimitFigures> {
  // Azurite and this process are metered over the child's timed part only: not its set-up and
  // warm-up before, nor its clean-up after (the write limit deletes everything it wrote).
  let meter: ReturnType<typeof cpuMeter> | undefined;
  let metered: CpuSplit | undefined;
  const out = await runChild(LIMITS, [mode, JSON.stringify(options)], (text) => {
    if (!meter && text.includes(CLOCK_STARTED)) meter = cpuMeter(azuritePid);
    if (meter && !metered && text.includes(CLOCK_STOPPED)) metered = meter.stop();
  });
  if (!meter || !metered) throw new Error(`${mode} limit never started and stopped its clock`);
  const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) throw new Error(`${mode} limit printed no result`);
  const r = JSON.parse(line.slice(RESULT_PREFIX.length)) as LimitResult;
  const cpu = { ...metered, limitProcess: r.cpuSeconds };
  return { ...r, resourcesPerSecond: r.resources / r.seconds, mbPerSecond: r.bytes / MB / r.seconds, cpu };
}

async function runExport(
  label: string,
  env: Record<string, string>,
  azurite: RunningAzurite,
  container: string,
  expected: { resources: number; ndjsonBytes?: number },
  pageSize: number,
  nodeArgs: string[],
  engine: BenchEngine,
  warmUp?: WarmUpWindow,
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
    const meter = cpuMeter(azurite.pid);
    const appCpu = cpuOfTree(pid);
    const started = performance.now();
    const kickedOffAt = Date.now();
    const kickoff = await client.kickoff('$export');
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
    };
  } finally {
    clearInterval(sampler);
    await app.stop();
  }
}

async function benchSize(
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
async function benchCosmosSource(
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

function table(results: SizeResult[]): string {
  const rows = [
    [
      'size',
      'source',
      'wall s',
      'res/s',
      'MB/s',
      'peak RSS MiB',
      'read-limit res/s',
      'write-limit res/s',
      'export/slower',
      'ceiling res/s',
      'export/ceiling',
    ],
  ];
  for (const r of results) {
    rows.push([
      r.label,
      r.source,
      fmt(r.export.seconds, 1),
      fmt(r.export.resourcesPerSecond),
      fmt(r.export.mbPerSecond, 1),
      fmt(r.export.peakRssMb),
      r.readLimit ? fmt(r.readLimit.resourcesPerSecond) : '-',
      r.writeLimit ? fmt(r.writeLimit.resourcesPerSecond) : '-',
      r.ratioToSlowerLimit !== undefined ? `${fmt(r.ratioToSlowerLimit * 100)} %` : '-',
      r.ceiling ? fmt(r.ceiling.resourcesPerSecond) : '-',
      r.ratioToCeiling !== undefined ? `${fmt(r.ratioToCeiling * 100)} %` : '-',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.engine === 'real') {
    if (!dotnetSdkAvailable()) {
      console.error(DOTNET_MISSING);
      process.exit(1);
    }
    log('building the real-engine host');
    buildEngineHost();
  }
  const azuriteDir = mkdtempSync(path.join(tmpdir(), 'bench-azurite-'));
  log(
    `sizes ${args.sizes.map(short).join(', ')} on the ${args.engine} durable runtime; starting Azurite (disk, temp folder) and the Cosmos emulator (job store)`,
  );
  const [azurite, cosmos] = await Promise.all([
    startAzurite({ location: azuriteDir }),
    startCosmosEmulator(),
  ]);
  const results: SizeResult[] = [];
  try {
    for (const size of args.sizes) {
      results.push(await benchSize(size, args, azurite, cosmos));
      global.gc?.();
    }
    if (args.cosmosSource > 0)
      results.push(await benchCosmosSource(args.cosmosSource, args.pageSize, args.engine, azurite, cosmos));
  } finally {
    await Promise.all([azurite.stop(), cosmos.stop()]);
    rmSync(azuriteDir, { recursive: true, force: true });
  }
  const report = {
    when: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      note: 'shared 2-core machine; figures are noisy',
    },
    settings: {
      engine: args.engine,
      resourcesPerPage: args.pageSize,
      typeParallelism: TYPE_PARALLELISM,
      appEnv: args.appEnv,
    },
    results,
  };
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log('');
  console.log(table(results));
  console.log(`\nWritten to ${args.out}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/** A limit's wall time and the CPU every process spent on it. */
function limitCost(figures: LimitFigures): LimitCost {
  const { limitProcess = 0, azurite, benchProcess } = figures.cpu;
  return { seconds: figures.seconds, cpuSeconds: limitProcess + azurite + benchProcess };
}

/** Range settings the app runs with, given the extra settings passed to it. */
function rangeSettingsOf(appEnv: Record<string, string>): { threshold: number; maxRanges: number } {
  const config = exportConfigFromEnv(appEnv);
  return { threshold: config.rangeSplitThreshold, maxRanges: config.maxRangesPerType };
}
