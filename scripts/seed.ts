/**
 * `npm run seed -- --patients N [--seed S]`: loads synthetic FHIR data into the Cosmos DB source.
 * `npm run seed -- --delete Type/id[,Type/id…]`: deletes resources from it, leaving the tombstones
 * that a later `_since` export lists in its manifest's `deleted` files.
 *
 * Connection: COSMOS_CONNECTION_STRING, or COSMOS_ENDPOINT with COSMOS_KEY (without a key, Entra ID
 * through DefaultAzureCredential). Target: COSMOS_DATABASE (default `fhir-export`) and
 * COSMOS_RESOURCES_CONTAINER (default `resources`), created when missing.
 */
import { parseArgs } from 'node:util';
import { seedDemoData } from '../dev/demo/seedDemo';
import { getCosmosClient } from '../src/jobs/cosmosClient';
import { readText } from '../src/settings/setting';
import { COSMOS } from '../src/settings/serviceSettings';
import { createCosmosResourceWriter } from '../dev/demo/cosmosResourceWriter';

const USAGE = 'usage: npm run seed -- --patients N [--seed S] | --delete Type/id[,Type/id…]';

function positiveInt(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) {
    throw new Error(`--${name} must be a positive whole number\n${USAGE}`);
  }
  return Number(value);
}

function references(list: string): Array<{ resourceType: string; id: string }> {
  return list.split(',').map((reference) => {
    const match = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})$/.exec(reference.trim());
    if (!match) throw new Error(`--delete takes Type/id references, got "${reference}"\n${USAGE}`);
    return { resourceType: match[1], id: match[2] };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      patients: { type: 'string' },
      seed: { type: 'string' },
      delete: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const deletions = values.delete === undefined ? undefined : references(values.delete);
  const patients = deletions ? 0 : positiveInt(values.patients, 'patients');
  const seed = positiveInt(values.seed, 'seed', 1);

  const env = process.env;
  const connectionString = readText(env, COSMOS.connectionString);
  const endpoint = readText(env, COSMOS.endpoint);
  if (!connectionString && !endpoint)
    throw new Error('Set COSMOS_CONNECTION_STRING, or COSMOS_ENDPOINT (and COSMOS_KEY)');
  const client = getCosmosClient({ connectionString, endpoint, key: readText(env, COSMOS.key) });
  const database = readText(env, COSMOS.database);
  const container = readText(env, COSMOS.resourcesContainer);

  const writer = await createCosmosResourceWriter(client, database, container);
  if (deletions) {
    await writer.deleteAll(deletions);
    console.log(`Deleted ${deletions.length} resources from ${database}/${container}`);
    return;
  }
  const started = Date.now();
  const result = await seedDemoData(writer, { patients, seed });
  console.log(
    `Seeded ${result.resources} resources into ${database}/${container} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const width = Math.max(...Object.keys(result.byType).map((t) => t.length));
  for (const [type, count] of Object.entries(result.byType).sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${type.padEnd(width)}  ${count}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
