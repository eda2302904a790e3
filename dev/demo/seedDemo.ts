/** Loads the synthetic dataset into the Cosmos resources container, a chunk at a time. */
import type { CosmosResourceWriter } from './cosmosResourceWriter';
import { generateDataset } from './syntheticFhir';
import { generateGroup } from './syntheticGroup';
import { patientId } from './syntheticPatient';

export const DEMO_GROUP_ID = 'demo-cohort';
const CHUNK = 2000;

export interface SeedResult {
  resources: number;
  byType: Record<string, number>;
}

/**
 * Writes `patients` synthetic patients with their clinical resources, plus a Group `demo-cohort` of
 * the first ten patients. Upserts, so seeding twice with the same seed changes nothing.
 */
export async function seedDemoData(
  writer: CosmosResourceWriter,
  options: { patients: number; seed?: number; onProgress?: (written: number) => void },
): Promise<SeedResult> {
  const byType: Record<string, number> = {};
  let chunk: Array<{ resourceType: string; id: string }> = [];
  let written = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const result = await writer.upsertAll(chunk as never);
    if (result.failed.length > 0) {
      const first = result.failed[0];
      throw new Error(
        `Seeding failed for ${result.failed.length} resources, e.g. ${first.resourceType}/${first.id}: ${first.statusCode}`,
      );
    }
    written += result.written;
    options.onProgress?.(written);
    chunk = [];
  };
  for (const resource of demoResources(options.patients, options.seed)) {
    byType[resource.resourceType] = (byType[resource.resourceType] ?? 0) + 1;
    chunk.push(resource);
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
  return { resources: written, byType };
}

function* demoResources(patients: number, seed?: number) {
  const members = Array.from({ length: Math.min(10, patients) }, (_, i) => patientId(i + 1));
  yield generateGroup(DEMO_GROUP_ID, members);
  yield* generateDataset({ patients, seed });
}
