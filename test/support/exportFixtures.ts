/** Seeding the app's Cosmos source and reading back what an export wrote. */
import { seedDemoData, type SeedResult } from '../../dev/demo/seedDemo';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { generateGroup } from '../../dev/demo/syntheticGroup';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { createCosmosResourceWriter } from '../../dev/demo/cosmosResourceWriter';
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import type { AppProcess } from './appProcess';
import { testConnectionInfo } from './testEnv';

export async function resourceWriter(app: AppProcess) {
  const info = testConnectionInfo();
  const client = getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey });
  return createCosmosResourceWriter(client, app.database, 'resources');
}

/** Seeds `patients` synthetic patients (+ the demo Group) into the app's source. */
export async function seedPatients(app: AppProcess, patients: number, seed = 1): Promise<SeedResult> {
  return seedDemoData(await resourceWriter(app), { patients, seed });
}

/** `type/id` keys of the resources the seed wrote, per type, as the source holds them. */
export function expectedKeys(patients: number, seed = 1): Map<string, string[]> {
  const byType = new Map<string, string[]>();
  const add = (type: string, id: string) => byType.set(type, [...(byType.get(type) ?? []), id]);
  add('Group', generateGroup('demo-cohort', []).id);
  for (const r of generateDataset({ patients, seed })) add(r.resourceType, r.id);
  return byType;
}

export interface DownloadedExport {
  manifest: Manifest;
  /** Every NDJSON line, parsed, per manifest type. */
  resources: Map<string, Array<Record<string, unknown>>>;
}

/** Downloads every file of a manifest and checks each line's type against its entry. */
export async function downloadAll(client: BulkDataClient, manifest: Manifest): Promise<DownloadedExport> {
  const resources = new Map<string, Array<Record<string, unknown>>>();
  for (const entry of manifest.output) {
    const text = await client.download(entry.url, manifest.requiresAccessToken);
    const lines = text.split('\n').filter((l) => l.length > 0);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const resource of parsed) {
      if (resource.resourceType !== entry.type)
        throw new Error(`${entry.url} holds a ${String(resource.resourceType)}`);
    }
    if (entry.count !== undefined && entry.count !== parsed.length) {
      throw new Error(`${entry.url}: manifest count ${entry.count} but ${parsed.length} lines`);
    }
    resources.set(entry.type, [...(resources.get(entry.type) ?? []), ...parsed]);
  }
  return { manifest, resources };
}

/** Sorted ids per type, for comparing an export with the source. */
export function idsByType(resources: Map<string, Array<Record<string, unknown>>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [type, list] of resources) out[type] = list.map((r) => String(r.id)).sort();
  return out;
}

/** Sorted ids per type of resources a test holds (e.g. what it seeded), to compare with `idsByType`. */
export function sortedIdsOf(
  resources: Array<{ resourceType: string; id: string }>,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of resources) (out[r.resourceType] ??= []).push(r.id);
  for (const ids of Object.values(out)) ids.sort();
  return out;
}
