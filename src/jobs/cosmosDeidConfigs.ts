/**
 * The pinned configurations of de-identified jobs on Cosmos DB: one document per job in the job's
 * partition (`{jobId}:deid`), read once per job per process rather than with every job record, and
 * never listed by the queries of job records or progress (they select on `docType`).
 */
import type { Container } from '@azure/cosmos';
import { deidConfigDocumentId, type DeidConfigDocument } from '../export/model';
import { cosmosStatusOf, withoutSystemProperties } from './cosmosDocuments';

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
    try {
      const { resource } = await this.container
        .item(deidConfigDocumentId(jobId), jobId)
        .read<DeidConfigDocument>();
      return resource?.docType === 'deid' ? withoutSystemProperties(resource) : undefined;
    } catch (err) {
      if (cosmosStatusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async delete(jobId: string): Promise<void> {
    try {
      await this.container.item(deidConfigDocumentId(jobId), jobId).delete();
    } catch (err) {
      if (cosmosStatusOf(err) !== 404) throw err;
    }
  }
}
