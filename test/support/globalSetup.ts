/**
 * Starts Azurite (in memory) and the Cosmos DB emulator once for the whole jest run, on free loopback
 * ports, and hands the connection info to the test workers through environment variables (workers
 * inherit the parent's environment). See `testEnv.ts` for the names.
 */
import { startEmulators } from '../../dev/runtime/emulators';
import { TEST_ENV } from './testEnv';

export default async function globalSetup(): Promise<void> {
  const emulators = await startEmulators({ azurite: { extentMemoryLimitMb: 512 } });
  process.env[TEST_ENV.storageConnectionString] = emulators.storageConnectionString;
  process.env[TEST_ENV.blobEndpoint] = emulators.blobEndpoint;
  process.env[TEST_ENV.queueEndpoint] = emulators.queueEndpoint;
  process.env[TEST_ENV.tableEndpoint] = emulators.tableEndpoint;
  process.env[TEST_ENV.cosmosEndpoint] = emulators.cosmosEndpoint;
  process.env[TEST_ENV.cosmosKey] = emulators.cosmosKey;
  (globalThis as { __testEmulators?: { stop(): Promise<void> } }).__testEmulators = emulators;
}
