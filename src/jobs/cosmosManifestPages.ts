/**
 * Manifest pages (`allowPartialManifests`) in the jobs container of Cosmos DB, each a document of its
 * own in the job's partition. A page is only ever created, never replaced: two polls that both try to
 * add page n meet at the create, and the loser (409) reads the winner's page.
 */
import type { Container } from '@azure/cosmos';
import { manifestPageDocumentId, type ManifestPageDocument } from '../export/model';
import { cosmosStatusOf, deleteDocument, withoutSystemProperties } from './cosmosDocuments';

export class CosmosManifestPages {
  constructor(private readonly container: Container) {}

  async list(jobId: string): Promise<ManifestPageDocument[]> {
    const { resources } = await this.container.items
      .query<ManifestPageDocument>(
        {
          query: 'SELECT * FROM c WHERE c.jobId = @jobId AND c.docType = @docType',
          parameters: [
            { name: '@jobId', value: jobId },
            { name: '@docType', value: 'manifestPage' },
          ],
        },
        { partitionKey: jobId },
      )
      .fetchAll();
    return resources.map((d) => withoutSystemProperties(d)).sort((a, b) => a.page - b.page);
  }

  async create(page: ManifestPageDocument): Promise<boolean> {
    const body = { ...page, id: manifestPageDocumentId(page.jobId, page.page), docType: 'manifestPage' };
    try {
      await this.container.items.create(body);
      return true;
    } catch (err) {
      if (cosmosStatusOf(err) === 409) return false;
      throw err;
    }
  }

  async deleteAll(jobId: string): Promise<void> {
    for (const page of await this.list(jobId)) {
      await deleteDocument(this.container, manifestPageDocumentId(jobId, page.page), jobId);
    }
  }
}
