/** Environment variables through which globalSetup passes the emulators' connection info. */
import { randomBytes } from 'node:crypto';

export const TEST_ENV = {
  storageConnectionString: 'TEST_STORAGE_CONNECTION_STRING',
  blobEndpoint: 'TEST_BLOB_ENDPOINT',
  queueEndpoint: 'TEST_QUEUE_ENDPOINT',
  tableEndpoint: 'TEST_TABLE_ENDPOINT',
  cosmosEndpoint: 'TEST_COSMOS_ENDPOINT',
  cosmosKey: 'TEST_COSMOS_KEY',
} as const;

export interface TestConnectionInfo {
  storageConnectionString: string;
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  cosmosEndpoint: string;
  cosmosKey: string;
}

/** The emulators' connection info inside a test worker; fails clearly when globalSetup did not run. */
export function testConnectionInfo(): TestConnectionInfo {
  const read = (name: string): string => {
    const value = process.env[name];
    if (!value)
      throw new Error(
        `${name} is not set: run the tests through jest so that globalSetup starts the emulators`,
      );
    return value;
  };
  return {
    storageConnectionString: read(TEST_ENV.storageConnectionString),
    blobEndpoint: read(TEST_ENV.blobEndpoint),
    queueEndpoint: read(TEST_ENV.queueEndpoint),
    tableEndpoint: read(TEST_ENV.tableEndpoint),
    cosmosEndpoint: read(TEST_ENV.cosmosEndpoint),
    cosmosKey: read(TEST_ENV.cosmosKey),
  };
}

/**
 * A name unique to one test file and run, usable as a Cosmos database/container id or (lower-case,
 * 3–63 chars) a blob container name, so that test files never see each other's data.
 */
export function uniqueName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 40) || 't';
  return `${clean}${randomBytes(5).toString('hex')}`;
}
