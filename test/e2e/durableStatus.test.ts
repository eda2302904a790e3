/** The durable status endpoint (statusQueryGetUri of the kick-off body) after an export. */
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import { managementOf, waitForRuntimeStatus } from '../support/e2eHelpers';
import { expectedKeys, seedPatients } from '../support/exportFixtures';

describe('durable status endpoint', () => {
  const PATIENTS = 3;
  // One lane: it exports one unit after the other, and each but the last knows the one after it.
  const app = new AppProcess({ env: { EXPORT_RESOURCES_PER_PAGE: '5', EXPORT_TYPE_PARALLELISM: '1' } });
  let client: BulkDataClient;
  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given a finished export, when its statusQueryGetUri is read, then it answers Completed with pages and resources per type', async () => {
    const kickoff = await client.kickoff('$export', { query: '_type=Patient,Observation' });
    const { id, statusQueryGetUri } = managementOf(kickoff.body);
    expect(id).toBe(kickoff.pollUrl?.split('/').pop());
    // The URL is absolute and points at this app, exactly as it would on Azure.
    expect(new URL(statusQueryGetUri).origin).toBe(new URL(client.baseUrl).origin);
    await client.waitForManifest(kickoff.pollUrl as string, { timeoutMs: 60_000, maxIntervalMs: 500 });

    const status = await waitForRuntimeStatus(statusQueryGetUri, ['Completed', 'Failed', 'Terminated']);
    expect(status.runtimeStatus).toBe('Completed');
    const custom = status.customStatus as {
      state: string;
      types: Record<string, { state: string; pages: number; resources: number }>;
    };
    expect(custom.state).toBe('completed');
    const expected = expectedKeys(PATIENTS);
    for (const type of ['Patient', 'Observation']) {
      const count = expected.get(type)?.length ?? 0;
      expect(custom.types[type]).toEqual({ state: 'done', resources: count, pages: expect.any(Number) });
      // Pages of five, plus the last (possibly empty) page that tells the source is done.
      expect(custom.types[type].pages).toBeGreaterThanOrEqual(Math.ceil(count / 5));
    }

    // Each unit's instance (`{jobId}:{unitId}`) was started with the unit its lane goes on with.
    const unitInput = async (unitId: string) => {
      const url = statusQueryGetUri.replace(encodeURIComponent(id), encodeURIComponent(`${id}:${unitId}`));
      const response = await fetch(url);
      expect(response.status).toBe(200);
      return ((await response.json()) as { input: { next?: { unitId: string } } }).input;
    };
    const nexts = await Promise.all(
      ['Patient', 'Observation'].map(async (unitId) => (await unitInput(unitId)).next?.unitId),
    );
    expect(nexts.sort()).toEqual(['Patient', undefined].sort());
  });
});
