/** Kick-off filters end to end: `_type`, `_since`, both, and malformed requests that create no job. */
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { AppProcess } from '../support/appProcess';
import { countJobDocuments, downloadSummary } from '../support/e2eHelpers';
import { expectedKeys, seedPatients } from '../support/exportFixtures';

const PATIENTS = 8;
const SINCE = '2025-01-01T00:00:00.000Z';

/** Sorted ids per type of the generated resources updated at or after `since` (the seeded Group is older). */
function expectedSince(since: string, types?: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const resource of generateDataset({ patients: PATIENTS, seed: 1 })) {
    const lastUpdated = (resource.meta as { lastUpdated: string }).lastUpdated;
    if (Date.parse(lastUpdated) < Date.parse(since)) continue;
    if (types && !types.includes(resource.resourceType)) continue;
    (out[resource.resourceType] ??= []).push(resource.id);
  }
  for (const ids of Object.values(out)) ids.sort();
  return out;
}

function sortedKeys(types: string[]): Record<string, string[]> {
  return Object.fromEntries(
    [...expectedKeys(PATIENTS)].filter(([t]) => types.includes(t)).map(([t, ids]) => [t, [...ids].sort()]),
  );
}

describe('export filters end to end', () => {
  const app = new AppProcess({ env: { EXPORT_RESOURCES_PER_PAGE: '50' } });
  let client: BulkDataClient;

  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  async function exportWith(query: string) {
    const kickoff = await client.kickoff('$export', { query });
    expect(kickoff.status).toBe(202);
    const manifest = await client.waitForManifest(kickoff.pollUrl as string, {
      timeoutMs: 60_000,
      maxIntervalMs: 1000,
    });
    return { manifest, ...(await downloadSummary(client, manifest)) };
  }

  it('given _type=Patient,Condition, when the export completes, then only those types have files, with all their resources', async () => {
    const { manifest, ids, duplicates } = await exportWith('_type=Patient,Condition');
    expect([...new Set(manifest.output.map((o) => o.type))].sort()).toEqual(['Condition', 'Patient']);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(sortedKeys(['Patient', 'Condition']));
  });

  it('given _since, when the export completes, then it holds exactly the resources updated at or after it', async () => {
    const expected = expectedSince(SINCE);
    // The dataset straddles the instant, so the filter has something to keep and something to drop.
    expect(Object.values(expected).flat().length).toBeGreaterThan(0);
    expect(Object.values(expected).flat().length).toBeLessThan(
      [...expectedKeys(PATIENTS).values()].flat().length - 1,
    );

    const { ids, duplicates } = await exportWith(`_since=${encodeURIComponent(SINCE)}`);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(expected);
  });

  it('given _type and _since together, when the export completes, then both restrictions apply', async () => {
    const types = ['Observation', 'Patient'];
    const { manifest, ids } = await exportWith(
      `_type=${types.join(',')}&_since=${encodeURIComponent(SINCE)}`,
    );
    expect(manifest.output.every((o) => types.includes(o.type))).toBe(true);
    expect(ids).toEqual(expectedSince(SINCE, types));
  });

  describe('malformed kick-offs', () => {
    const cases: Array<[string, string, Record<string, string>, RegExp]> = [
      ['_since=yesterday', '_since=yesterday', {}, /_since/],
      ['_type=Spaceship', '_type=Spaceship', {}, /Spaceship/],
      ['_outputFormat=text/csv', `_outputFormat=${encodeURIComponent('text/csv')}`, {}, /_outputFormat/],
      ['no Prefer header', '', { Prefer: '' }, /Prefer/],
    ];

    it.each(cases)(
      'given %s, when kicking off, then 400 with an OperationOutcome and no job is created',
      async (_label, query, headers, reason) => {
        const before = await countJobDocuments(app);
        const response = await fetch(`${client.baseUrl}/$export${query ? `?${query}` : ''}`, {
          headers: { Accept: 'application/fhir+json', Prefer: 'respond-async', ...headers },
        });
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
        expect(response.headers.get('content-location')).toBeNull();
        const body = (await response.json()) as {
          resourceType: string;
          issue: Array<{ severity: string; diagnostics?: string }>;
        };
        expect(body.resourceType).toBe('OperationOutcome');
        expect(body.issue[0].severity).toMatch(/error|fatal/);
        expect(body.issue.map((i) => i.diagnostics).join(' ')).toMatch(reason);
        expect(await countJobDocuments(app)).toBe(before);
      },
    );

    it('given the earlier exports, then the job count reflects exactly those jobs', async () => {
      // Guards the "no job created" checks above against a count that is always zero.
      expect(await countJobDocuments(app)).toBe(3);
    });
  });
});
