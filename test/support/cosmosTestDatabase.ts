/** A Cosmos DB database of one test file on the emulator: its client before the tests, deleted after them. */
import type { CosmosClient } from '@azure/cosmos';
import { disposeCosmosClients, getCosmosClient } from '../../src/jobs/cosmosClient';
import { testConnectionInfo, uniqueName } from './testEnv';

export interface CosmosTestDatabase {
  readonly databaseId: string;
  /** The client; set in `beforeAll`. */
  readonly client: CosmosClient;
}

/** Registers the `beforeAll` and `afterAll` hooks of a test file's own database. */
export function useCosmosTestDatabase(prefix: string): CosmosTestDatabase {
  let client: CosmosClient | undefined;
  const databaseId = uniqueName(prefix);
  beforeAll(() => {
    const { cosmosEndpoint, cosmosKey } = testConnectionInfo();
    client = getCosmosClient({ endpoint: cosmosEndpoint, key: cosmosKey });
  });
  afterAll(async () => {
    await client
      ?.database(databaseId)
      .delete()
      .catch(() => undefined);
    disposeCosmosClients();
  });
  return {
    databaseId,
    get client(): CosmosClient {
      if (!client) throw new Error('the Cosmos DB client is set in beforeAll');
      return client;
    },
  };
}
