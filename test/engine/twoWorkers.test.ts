/**
 * Two real-engine hosts on one task hub, as two instances of one function app on Azure: one is
 * SIGKILLed while several exports run, and the survivor takes over its partitions and finishes every
 * export with exactly the resources of an undisturbed run.
 */
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import {
  downloadSummary,
  managementOf,
  sleep,
  sortedExpectation,
  waitForRuntimeStatus,
  type ManagementPayload,
} from '../support/e2eHelpers';
import { expectedKeys, seedPatients } from '../support/exportFixtures';

const PATIENTS = 12;
const EXPORTS = 3;
const expected = sortedExpectation(expectedKeys(PATIENTS));

interface RunningExport {
  pollUrl: string;
  management: ManagementPayload;
}

/** The number of resources the poll's X-Progress reports, or 'done' once the manifest is there. */
async function progressOf(pollUrl: string): Promise<number | 'done'> {
  const response = await fetch(pollUrl);
  await response.arrayBuffer();
  if (response.status === 200) return 'done';
  expect(response.status).toBe(202);
  return Number(/(\d+) (?:of \d+ )?resources/.exec(response.headers.get('x-progress') ?? '')?.[1] ?? 0);
}

/** A poll or file URL as the other host serves it (same app, same stores). */
function viaHost(url: string, baseUrl: string): string {
  const target = new URL(url);
  const base = new URL(baseUrl);
  target.host = base.host;
  return target.toString();
}

describe('two real-engine hosts on one task hub', () => {
  const env = { EXPORT_RESOURCES_PER_PAGE: '10', EXPORT_TYPE_PARALLELISM: '2' };
  const doomed = new AppProcess({ env });
  const survivor = new AppProcess({ env, hostOf: doomed });

  beforeAll(() => seedPatients(doomed, PATIENTS));
  afterAll(async () => {
    await survivor.dispose();
    await doomed.dispose();
  });

  it('given several exports running on two hosts, when one host is SIGKILLed, then the other finishes each with every resource exactly once', async () => {
    if (!doomed.onRealEngine) throw new Error('this test needs the real engine (jest project engine)');
    // The first host owns every partition while the exports start; the second joins while they run.
    const doomedClient = new BulkDataClient(await doomed.start());
    const exports: RunningExport[] = [];
    for (let i = 0; i < EXPORTS; i++) {
      const kickoff = await doomedClient.kickoff('$export', { headers: { 'Cache-Control': 'no-cache' } });
      expect(kickoff.status).toBe(202);
      exports.push({ pollUrl: kickoff.pollUrl as string, management: managementOf(kickoff.body) });
    }
    const survivorBase = await survivor.start();
    const survivorClient = new BulkDataClient(survivorBase);
    const running = exports.map((e) => ({
      pollUrl: viaHost(e.pollUrl, survivorBase),
      statusQueryGetUri: viaHost(e.management.statusQueryGetUri, survivorBase),
    }));

    // Kill while every export has written something and none has finished.
    for (;;) {
      const progress = await Promise.all(running.map((e) => progressOf(e.pollUrl)));
      if (progress.includes('done')) throw new Error('an export finished before the host could be killed');
      if (progress.every((p) => typeof p === 'number' && p > 0)) break;
      await sleep(100);
    }
    await doomed.kill();
    const killedAt = Date.now();

    for (const { pollUrl, statusQueryGetUri } of running) {
      const manifest = await survivorClient.waitForManifest(pollUrl, {
        timeoutMs: 600_000,
        maxIntervalMs: 1000,
      });
      const { ids, duplicates } = await downloadSummary(survivorClient, manifest);
      expect(duplicates).toEqual([]);
      expect(ids).toEqual(expected);

      // The durable status says what the Bulk Data status says.
      const status = await waitForRuntimeStatus(statusQueryGetUri, ['Completed', 'Failed', 'Terminated']);
      expect(status.runtimeStatus).toBe('Completed');
      expect((status.customStatus as { state: string }).state).toBe('completed');
    }
    process.stdout.write(
      `two-worker takeover: ${EXPORTS} exports finished ${Math.round((Date.now() - killedAt) / 1000)} s after the SIGKILL\n`,
    );
  });
});
