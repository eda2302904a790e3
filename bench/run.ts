/**
 * `npm run bench`: full system exports on the local runtime, against a benchmark FHIR endpoint,
 * into Azurite, with the two limits (read-only, write-only) measured in the same run.
 *
 *   npm run bench -- [--sizes 10000,100000,1000000] [--cosmos-source 5000] [--cpu-prof DIR]
 *                    [--app-env NAME=value] [--app-node-arg --flag] [--page-size N]
 *                    [--out bench-results.json] [--engine embedded|real]
 *                    [--deid-config FILE|none]
 *
 * Per size: build the dataset → serve it (bench/pagingServer.ts) → read limit → write limit →
 * export with the app process (appHost, SOURCE_KIND=fhir), sampling its RSS → verify the manifest
 * counts and the bytes in storage → the same export de-identified by `--deid-config` (default: the
 * Safe Harbor configuration in test/fixtures/deid), in the same app process, its rate and its ratio
 * to the plain rate. Then one small export with the Cosmos DB emulator as the source
 * (realism only; the emulator is no yardstick for speed). The job store is the in-process Cosmos
 * emulator throughout (a few documents per page); Azurite keeps its data on disk in a temp folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { startAzurite, startCosmosEmulator } from '../dev/runtime/emulators';
import { DOTNET_MISSING, buildEngineHost, dotnetSdkAvailable } from '../engine/launch';
import { log, short, table, type SizeResult } from './report';
import { benchCosmosSource, benchSize } from './scenarios';
import { TYPE_PARALLELISM, parseArgs } from './settings';

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
