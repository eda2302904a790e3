/**
 * Writes FHIR resources into a resource container in the layout `CosmosSearchSource` reads
 * (partition `/resourceType`, `id` = FHIR id, canonical `meta.lastUpdated`). Used by the seed script.
 *
 * Writes are upserts through `items.bulk`, 100 operations per call with a few calls in flight;
 * throttled (429) operations are retried with backoff; other failures are reported per resource.
 */
import { Container, CosmosClient, JSONObject, OperationInput } from '@azure/cosmos';
import { ensureContainer } from '../../src/jobs/cosmosClient';
import { RESOURCES_PARTITION_KEY_PATH } from '../../src/sources/cosmosSource';
import { tombstoneOf } from '../../src/sources/cosmosDeletions';
import { cosmosStatusOf } from '../../src/jobs/cosmosDocuments';
import { mapWithConcurrency } from '../../src/util/concurrency';

export interface FhirResource {
  resourceType: string;
  id: string;
  meta?: { lastUpdated?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ResourceWriteFailure {
  resourceType: string;
  id: string;
  statusCode: number;
}

export interface ResourceWriteResult {
  written: number;
  failed: ResourceWriteFailure[];
}

export interface CosmosResourceWriterOptions {
  /** Operations per bulk call (at most 100); default 100. */
  batchSize?: number;
  /** Bulk calls in flight; default 4. */
  concurrency?: number;
  /** Retries of throttled operations; default 8. */
  maxThrottleRetries?: number;
  /** `meta.lastUpdated` for resources that have none; default now. */
  now?: () => Date;
}

/**
 * The document for a resource: the resource itself with `meta.lastUpdated` in canonical
 * `toISOString()` form (set to `now` when missing). Throws for a resource without type or id.
 */
export function toResourceDocument(resource: FhirResource, now: Date = new Date()): FhirResource {
  if (!resource || typeof resource.resourceType !== 'string' || !resource.resourceType) {
    throw new TypeError('A resource needs a resourceType');
  }
  if (typeof resource.id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(resource.id)) {
    throw new TypeError(`${resource.resourceType} needs a valid FHIR id, got ${String(resource.id)}`);
  }
  const raw = resource.meta?.lastUpdated;
  const time = raw === undefined ? now.getTime() : Date.parse(raw);
  if (Number.isNaN(time))
    throw new TypeError(`${resource.resourceType}/${resource.id} has an invalid meta.lastUpdated`);
  return { ...resource, meta: { ...(resource.meta ?? {}), lastUpdated: new Date(time).toISOString() } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class CosmosResourceWriter {
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly maxThrottleRetries: number;
  private readonly now: () => Date;

  constructor(
    readonly container: Container,
    options: CosmosResourceWriterOptions = {},
  ) {
    this.batchSize = Math.min(100, Math.max(1, options.batchSize ?? 100));
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.maxThrottleRetries = options.maxThrottleRetries ?? 8;
    this.now = options.now ?? (() => new Date());
  }

  /** Upserts every resource; resolves when all calls are done. */
  async upsertAll(resources: Iterable<FhirResource>): Promise<ResourceWriteResult> {
    const now = this.now();
    const docs = [...resources].map((r) => toResourceDocument(r, now));
    const chunks: FhirResource[][] = [];
    for (let i = 0; i < docs.length; i += this.batchSize) chunks.push(docs.slice(i, i + this.batchSize));
    const results = await mapWithConcurrency(chunks, this.concurrency, (chunk) => this.writeChunk(chunk));
    return {
      written: results.reduce((n, r) => n + r.written, 0),
      failed: results.flatMap((r) => r.failed),
    };
  }

  /**
   * Deletes resources the way the source reads deletions (see src/sources/cosmosDeletions.ts): first
   * the tombstone, stamped `at` (default now), then the document, so no deletion goes unrecorded. A
   * resource that is already gone still gets its tombstone.
   */
  async deleteAll(
    resources: Iterable<{ resourceType: string; id: string }>,
    at: Date = this.now(),
  ): Promise<number> {
    const list = [...resources];
    await mapWithConcurrency(list, this.concurrency, async ({ resourceType, id }) => {
      await this.container.items.upsert(tombstoneOf(resourceType, id, at));
      try {
        await this.container.item(id, resourceType).delete();
      } catch (error) {
        if (cosmosStatusOf(error) !== 404) throw error;
      }
    });
    return list.length;
  }

  private async writeChunk(chunk: FhirResource[]): Promise<ResourceWriteResult> {
    const result: ResourceWriteResult = { written: 0, failed: [] };
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(5000, 100 * 2 ** attempt));
      const operations: OperationInput[] = pending.map((doc) => ({
        operationType: 'Upsert',
        partitionKey: doc.resourceType,
        resourceBody: doc as unknown as JSONObject,
      }));
      const responses = await this.container.items.bulk(operations, { continueOnError: true });
      const throttled: FhirResource[] = [];
      responses.forEach((r, i) => {
        const doc = pending[i];
        if (r.statusCode >= 200 && r.statusCode < 300) result.written++;
        else if (r.statusCode === 429 && attempt < this.maxThrottleRetries) throttled.push(doc);
        else result.failed.push({ resourceType: doc.resourceType, id: doc.id, statusCode: r.statusCode });
      });
      pending = throttled;
    }
    return result;
  }
}

/** Creates the database and resource container if missing and returns a writer on it. */
export async function createCosmosResourceWriter(
  client: CosmosClient,
  databaseId: string,
  containerId: string,
  options?: CosmosResourceWriterOptions,
): Promise<CosmosResourceWriter> {
  const container = await ensureContainer(client, databaseId, containerId, RESOURCES_PARTITION_KEY_PATH);
  return new CosmosResourceWriter(container, options);
}
