/**
 * A FHIR server whose searches expire mid-export (410 Gone on a next link, as HAPI answers once its
 * search cache has dropped a search): the export resumes each search where it stood and completes
 * with every resource exactly once, also when the app dies right after writing a resumed page.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { AppProcess } from '../support/appProcess';
import { downloadSummary, waitForExit } from '../support/e2eHelpers';
import { sortedIdsOf } from '../support/exportFixtures';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';

const PAGE_SIZE = '3';
/** A search serves 2 pages, then its next link answers 410: page 2 of a unit is the first resumed one. */
const PAGES_PER_SEARCH = 2;
const FIRST_RESUMED_PAGE = PAGES_PER_SEARCH;
/** Resources of a type share an instant in groups of these sizes, in turn: groups straddle the resumes. */
const GROUP_SIZES = [3, 1, 4, 2, 5];
const START = Date.parse('2024-01-01T00:00:00.000Z');

type Resource = { resourceType: string; id: string } & Record<string, unknown>;

/** The dataset with `meta.lastUpdated` set per type in groups of one instant, newest first. */
function datedResources(): Resource[] {
  const byType = new Map<string, Resource[]>();
  for (const r of generateDataset({ patients: 5, seed: 7 }) as Iterable<Resource>) {
    byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
  }
  const dated: Resource[] = [];
  for (const resources of byType.values()) {
    let group = 0;
    let left = GROUP_SIZES[0];
    for (const resource of resources) {
      if (left === 0) left = GROUP_SIZES[++group % GROUP_SIZES.length];
      left -= 1;
      const lastUpdated = new Date(START + group * 60_000).toISOString();
      dated.push({ ...resource, meta: { lastUpdated } });
    }
  }
  // The server's own (insertion) order is then not the `_lastUpdated` order.
  return dated.reverse();
}

describe('exports from a FHIR server whose searches expire', () => {
  const resources = datedResources();
  let server: FhirTestServer;
  const env: Record<string, string> = { SOURCE_KIND: 'fhir', EXPORT_RESOURCES_PER_PAGE: PAGE_SIZE };
  const app = new AppProcess({ env });

  beforeAll(async () => {
    server = await startFhirTestServer({ linkStyle: 'cursor', expireSearchesAfterPages: PAGES_PER_SEARCH });
    await server.seed(resources);
    env.FHIR_SOURCE_URL = server.baseUrl;
  });
  afterAll(async () => {
    await app.dispose();
    await server?.close();
  });

  /** Searches started again after an expiry: a `_lastUpdated=ge` bound the export itself has none of. */
  const resumedSearches = () =>
    server.requests.filter((r) => r.url.includes('_lastUpdated=ge') && !r.url.includes('_summary')).length;

  async function expectExactExport(client: BulkDataClient, pollUrl: string): Promise<void> {
    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 180_000, maxIntervalMs: 1000 });
    const { ids, duplicates } = await downloadSummary(client, manifest);
    expect(duplicates).toEqual([]);
    expect(ids).toEqual(sortedIdsOf(resources));
  }

  async function kickoff(client: BulkDataClient): Promise<string> {
    const response = await client.kickoff('$export', { headers: { 'Cache-Control': 'no-cache' } });
    expect(response.status).toBe(202);
    return response.pollUrl as string;
  }

  it('given searches that expire every two pages, when a system export runs, then it completes with every resource exactly once', async () => {
    const client = new BulkDataClient(await app.start());
    const before = resumedSearches();
    await expectExactExport(client, await kickoff(client));
    expect(resumedSearches()).toBeGreaterThan(before);
  });

  it('given an app that dies right after writing a resumed page, when it is restarted, then the export still holds every resource exactly once', async () => {
    await app.stop();
    env.LOCAL_CRASH_AT = `written:${FIRST_RESUMED_PAGE}`;
    rmSync(path.join(app.dataDir, 'crash-injected'), { force: true });
    const client = new BulkDataClient(await app.start());
    const pollUrl = await kickoff(client);

    await waitForExit(app);
    expect(readFileSync(path.join(app.dataDir, 'crash-injected'), 'utf8')).toMatch(
      new RegExp(`^written:${FIRST_RESUMED_PAGE} `),
    );
    delete env.LOCAL_CRASH_AT;
    await app.start();
    await expectExactExport(client, pollUrl);
  });
});
