/**
 * Which durable runtime the app processes of this test run use: the real Durable Task extension
 * (`engine/host`, jest project `engine`) or the embedded runtime (project `embedded`).
 */
export type TestRuntime = 'engine' | 'embedded';

export const TEST_RUNTIME_VARIABLE = 'TEST_RUNTIME';

export function testRuntime(): TestRuntime {
  return process.env[TEST_RUNTIME_VARIABLE] === 'engine' ? 'engine' : 'embedded';
}

export const onRealEngine = (): boolean => testRuntime() === 'engine';

/**
 * Backend settings that make an engine host on an idle test hub react within a second, and take
 * over a dead host's work as early as the Azure Storage backend allows (control messages are hidden
 * for at least a minute, partition leases expire after 30 s).
 */
export const ENGINE_TEST_SETTINGS: Record<string, string> = {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval: '00:00:01',
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__controlQueueVisibilityTimeout: '00:01:00',
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__workItemQueueVisibilityTimeout: '00:00:10',
};
