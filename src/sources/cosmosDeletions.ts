/**
 * Deletions kept by the Cosmos DB source as tombstones. Deleting a resource removes its document
 * and writes a tombstone in the resource container, in a partition of its own per type:
 *
 *   { "id": "123", "resourceType": "Patient.deleted", "deletedType": "Patient",
 *     "meta": { "lastUpdated": "2024-05-01T10:20:30.123Z" } }
 *
 * `resourceType` (the partition key) is `{Type}.deleted`, never a FHIR type, so resource searches,
 * reads and type listings never see a tombstone; `meta.lastUpdated` is the time of the deletion in
 * the writer's canonical form. A later deletion of the same id replaces the tombstone. A writer that
 * re-creates the resource may leave the tombstone: the resource's own document then says it exists.
 */
import type { Container } from '@azure/cosmos';
import { BadRequestError } from '../export/errors';
import { instantMs, utcInstant } from '../export/instant';
import { toSourceError } from './cosmosSource';
import type { DeletionPage, DeletionSource, DeletionSupport, DeletionWindow } from './deletionSource';

/** The partition (`resourceType` value) of the tombstones of `resourceType`. */
export function tombstonePartition(resourceType: string): string {
  return `${resourceType}.deleted`;
}

export interface Tombstone {
  id: string;
  resourceType: string;
  deletedType: string;
  meta: { lastUpdated: string };
}

/** The tombstone of `resourceType/id` deleted at `at`. */
export function tombstoneOf(resourceType: string, id: string, at: Date): Tombstone {
  return {
    id,
    resourceType: tombstonePartition(resourceType),
    deletedType: resourceType,
    meta: { lastUpdated: at.toISOString() },
  };
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;

function storedBound(name: string, value: string, rounding: 'down' | 'up'): string {
  if (utcInstant(value) === undefined) throw new BadRequestError(`${name} is not a valid instant: ${value}`);
  return new Date(instantMs(value, rounding)).toISOString();
}

export class CosmosDeletionSource implements DeletionSource {
  constructor(readonly container: Container) {}

  /** Every type: the tombstones are written by the source's own writer. */
  deletionSupport(): Promise<DeletionSupport> {
    return Promise.resolve({ supported: true });
  }

  async deletions(
    resourceType: string,
    window: DeletionWindow,
    continuationToken?: string,
  ): Promise<DeletionPage> {
    if (!RESOURCE_TYPE.test(resourceType)) throw new BadRequestError(`Invalid resource type ${resourceType}`);
    const until = storedBound('until', window.until, 'down');
    try {
      const iterator = this.container.items.query<{ id: string; lastUpdated: string }>(
        {
          query:
            'SELECT c.id, c.meta.lastUpdated FROM c WHERE c.resourceType = @partition' +
            ' AND c.meta.lastUpdated >= @since AND c.meta.lastUpdated <= @until ORDER BY c.meta.lastUpdated',
          parameters: [
            { name: '@partition', value: tombstonePartition(resourceType) },
            { name: '@since', value: storedBound('since', window.since, 'up') },
            { name: '@until', value: until },
          ],
        },
        { partitionKey: tombstonePartition(resourceType), maxItemCount: window.count, continuationToken },
      );
      // The service may answer a page with no items but a continuation; follow it a few times.
      for (let attempt = 0; ; attempt++) {
        const response = await iterator.fetchNext();
        const nextToken = (response.hasMoreResults && response.continuationToken) || undefined;
        if (response.resources.length > 0 || !nextToken || attempt >= 10) {
          const existing = await this.existingAt(resourceType, response.resources, until);
          const deleted = response.resources
            .filter((t) => !existing.has(t.id))
            .map((t) => ({ id: t.id, deletedAt: t.lastUpdated }));
          return { deleted, nextToken };
        }
      }
    } catch (err) {
      throw toSourceError(err);
    }
  }

  /**
   * The ids among `tombstones` whose resource was created again up to `until`: the delete removed the
   * document, so one that exists now is younger than its tombstone, and is exported as it is.
   */
  private async existingAt(
    resourceType: string,
    tombstones: Array<{ id: string }>,
    until: string,
  ): Promise<Set<string>> {
    if (tombstones.length === 0) return new Set();
    const { resources } = await this.container.items
      .query<string>(
        {
          query:
            'SELECT VALUE c.id FROM c WHERE c.resourceType = @type AND ARRAY_CONTAINS(@ids, c.id)' +
            ' AND c.meta.lastUpdated <= @until',
          parameters: [
            { name: '@type', value: resourceType },
            { name: '@ids', value: tombstones.map((t) => t.id) },
            { name: '@until', value: until },
          ],
        },
        { partitionKey: resourceType },
      )
      .fetchAll();
    return new Set(resources);
  }
}
