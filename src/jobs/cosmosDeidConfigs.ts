/**
 * The pinned configurations of de-identified jobs on Cosmos DB: one document per job in the job's
 * partition (`{jobId}:deid`), read once per job per process rather than with every job record, and
 * never listed by the queries of job records or progress (they select on `docType`).
 */
import type { Container } from '@azure/cosmos';
import { deidConfigDocumentId, type DeidConfigDocument } from '../export/model';
import { cosmosStatusOf, readDocument, withoutSystemProperties } from './cosmosDocuments';

export class CosmosDeidConfigs {
  constructor(private readonly container: Container) {}

  /** Creates the document; one that exists already (a retried kick-off) is kept as it is. */
  async create(doc: DeidConfigDocument): Promise<void> {
    const body = withoutSystemProperties({
      ...doc,
      id: deidConfigDocumentId(doc.jobId),
      docType: 'deid' as const,
    });
    try {
      await this.container.items.create(body);
    } catch (err) {
      if (cosmosStatusOf(err) !== 409) throw err;
    }
  }

  async get(jobId: string): Promise<DeidConfigDocument | undefined> {
    const doc = await readDocument<DeidConfigDocument>(this.container, deidConfigDocumentId(jobId), jobId);
    return doc?.docType === 'deid' ? withoutSystemProperties(doc) : undefined;
  }

  /**
   * Deletes the configurations created before `createdBefore` whose job record never came (the
   * kick-off died between the two writes); returns how many. Kick-offs are HTTP requests, which the
   * host ends within minutes, so a cut-off an hour back leaves every live kick-off alone.
   */
  async deleteOrphans(createdBefore: string): Promise<number> {
    const { resources } = await this.container.items
      .query<{ jobId: string }>({
        query: 'SELECT c.jobId FROM c WHERE c.docType = @deid AND c.createdAt < @before',
        parameters: [
          { name: '@deid', value: 'deid' },
          { name: '@before', value: createdBefore },
        ],
      })
      .fetchAll();
    let deleted = 0;
    for (const { jobId } of resources) {
      const job = await readDocument<{ docType: string }>(this.container, jobId, jobId);
      if (job?.docType === 'job') continue;
      await this.delete(jobId);
      deleted += 1;
    }
    return deleted;
  }

  async delete(jobId: string): Promise<void> {
    try {
      await this.container.item(deidConfigDocumentId(jobId), jobId).delete();
    } catch (err) {
      if (cosmosStatusOf(err) !== 404) throw err;
    }
  }
}
