/**
 * `npm run bench:coldstart`: what the deployment package weighs and how fast the app starts from it,
 * against the unbundled build (dist/ with the production node_modules, the way it was deployed before
 * `npm run package`).
 *
 * Cold start is the time from spawning the host to the first 200 of `GET /api/metadata`, on the
 * embedded runtime and on the real-engine host (with Azurite for its task hub), each build started
 * `--runs` times (default 5) in alternation so that drift of a shared machine hits both alike. These
 * local hosts load their own copies of @azure/functions and durable-functions besides the bundle's,
 * so the bundle pays twice there; the app load in a fresh process (what the worker does on Azure)
 * is measured on its own.
 *
 * Usage: node dist/bench/coldStart.js [--runs N] [--engine embedded|real|both]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { startAzurite, type RunningAzurite } from '../dev/runtime/emulators';
import { DOTNET_MISSING, dotnetSdkAvailable } from '../engine/launch';
import { buildPackage } from '../scripts/package/buildPackage';
import { appEntry } from '../dev/runtime/appEntry';
import { WORKER_NODE_ARGUMENTS } from '../dev/runtime/workerArguments';
import { startApp, type BenchEngine } from './appProcess';

const ROOT = path.resolve(__dirname, '..', '..');

interface Tree {
  files: number;
  bytes: number;
}

/** Files and bytes under `dir`, leaving out nested node_modules (listed on their own) and `skip`. */
function measure(dir: string, total: Tree, skip = ''): Tree {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && full !== skip) measure(full, total, skip);
    } else if (entry.isFile()) {
      total.files += 1;
      total.bytes += statSync(full).size;
    }
  }
  return total;
}

/** The unbundled deployment: dist/ (without the .NET engine host), host.json, package.json and the production packages. */
function unbundledTree(): Tree {
  const total: Tree = { files: 2, bytes: statSync(path.join(ROOT, 'host.json')).size };
  total.bytes += statSync(path.join(ROOT, 'package.json')).size;
  measure(path.join(ROOT, 'dist'), total, path.join(ROOT, 'dist', 'engine', 'host'));
  const listed = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const packages = new Set(
    listed.stdout.split('\n').filter((line) => line.includes(`${path.sep}node_modules${path.sep}`)),
  );
  for (const dir of packages) measure(dir, total);
  return total;
}

/**
 * Milliseconds from a fresh Node process's start until the app's main module has loaded (all
 * registrations made), which is what the Functions worker does on Azure before the host routes requests.
 */
function appLoad(appRoot: string | undefined): number {
  const hook = path.join(ROOT, 'dist', 'dev', 'runtime', 'moduleHook.js');
  const entry = appEntry(appRoot, path.join(ROOT, 'dist', 'functions', 'index.js'));
  const script = `require(${JSON.stringify(hook)}).installFunctionsCoreHook();require(${JSON.stringify(entry)});console.log(performance.now());`;
  const result = spawnSync(process.execPath, [...WORKER_NODE_ARGUMENTS, '-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`loading ${entry} failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

async function coldStart(
  engine: BenchEngine,
  appRoot: string | undefined,
  azurite?: RunningAzurite,
): Promise<number> {
  const started = performance.now();
  const app = await startApp({
    engine,
    appRoot,
    nodeArgs: [],
    env: {
      // /metadata touches no store; the settings only have to be valid.
      COSMOS_ENDPOINT: 'https://127.0.0.1:9/',
      COSMOS_KEY: 'a2V5',
      SOURCE_KIND: 'cosmos',
      EXPORT_STORAGE_CONNECTION_STRING: azurite?.storageConnectionString ?? 'UseDevelopmentStorage=true',
      ...(azurite ? { AzureWebJobsStorage: azurite.storageConnectionString } : {}),
    },
  });
  try {
    for (;;) {
      const response = await fetch(`${app.apiBaseUrl}/metadata`).catch(() => undefined);
      await response?.arrayBuffer();
      if (response?.status === 200) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await app.stop();
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
function report(what: string, times: Record<string, number[]>): void {
  for (const [build, values] of Object.entries(times)) {
    const shown = values.map((ms) => Math.round(ms)).join(', ');
    console.log(`${what}, ${build}: median ${Math.round(median(values))} ms (${shown})`);
  }
}
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
  const engineAt = args.indexOf('--engine');
  const choice = engineAt >= 0 ? args[engineAt + 1] : 'both';
  const engines: BenchEngine[] = choice === 'both' ? ['embedded', 'real'] : [choice as BenchEngine];
  if (engines.includes('real') && !dotnetSdkAvailable()) throw new Error(DOTNET_MISSING);

  const outDir = mkdtempSync(path.join(tmpdir(), 'bench-package-'));
  let azurite: RunningAzurite | undefined;
  try {
    const before = unbundledTree();
    const built = await buildPackage({ root: ROOT, outDir });
    const after = built.files.reduce((sum, file) => sum + file.bytes, 0);
    console.log(`machine: ${cpus().length} cpus, node ${process.version}`);
    console.log(`unbundled (dist + production node_modules): ${before.files} files, ${mib(before.bytes)}`);
    console.log(`package: ${built.files.length} files, ${mib(after)}; zip ${mib(built.zipBytes)}`);

    const loads: Record<'unbundled' | 'bundled', number[]> = { unbundled: [], bundled: [] };
    for (let run = 0; run < runs; run++) {
      loads.unbundled.push(appLoad(undefined));
      loads.bundled.push(appLoad(built.appDir));
    }
    report('app load (fresh process)', loads);

    if (engines.includes('real')) azurite = await startAzurite();
    for (const engine of engines) {
      const times: Record<'unbundled' | 'bundled', number[]> = { unbundled: [], bundled: [] };
      for (let run = 0; run < runs; run++) {
        times.unbundled.push(await coldStart(engine, undefined, azurite));
        times.bundled.push(await coldStart(engine, built.appDir, azurite));
      }
      report(`${engine} runtime, first 200 of /metadata`, times);
    }
  } finally {
    await azurite?.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
