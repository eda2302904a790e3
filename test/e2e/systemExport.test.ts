import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import { downloadAll, expectedKeys, idsByType, seedPatients } from '../support/exportFixtures';

describe('system export end to end (local runtime, Azurite, Cosmos emulator)', () => {
  const app = new AppProcess({ env: { EXPORT_RESOURCES_PER_PAGE: '40' } });
  let client: BulkDataClient;
  const PATIENTS = 12;

  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given seeded data, when a system export runs, then the files hold exactly the source resources', async () => {
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);
    expect(kickoff.pollUrl).toMatch(/\/_operations\/export\/[0-9a-f-]{36}$/);

    const manifest = await client.waitForManifest(kickoff.pollUrl as string);
    const { resources } = await downloadAll(client, manifest);

    const expected = Object.fromEntries([...expectedKeys(PATIENTS)].map(([t, ids]) => [t, [...ids].sort()]));
    expect(idsByType(resources)).toEqual(expected);
    const counted = Object.fromEntries(manifest.output.map((o) => [o.type, 0]));
    for (const o of manifest.output) counted[o.type] += o.count ?? 0;
    expect(counted).toEqual(Object.fromEntries(Object.entries(expected).map(([t, ids]) => [t, ids.length])));
  });
});
