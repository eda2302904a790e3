/**
 * Crash recovery: the app SIGKILLs itself (LOCAL_CRASH_AT) right after one phase of one page, or the
 * test kills it while page searches are in flight; a restarted app finishes the export with each
 * resource exactly once.
 */
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { AppProcess } from '../support/appProcess';
import { downloadSummary, eventually, sortedExpectation, waitForExit } from '../support/e2eHelpers';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { generateGroup } from '../../dev/demo/syntheticGroup';
import { expectedKeys, seedPatients } from '../support/exportFixtures';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';
import { startGatedFhirSource, type GatedFhirSource } from '../support/gatedFhirSource';

const PATIENTS = 8;
const PAGE_SIZE = '25';
const expected = sortedExpectation(expectedKeys(PATIENTS));
/** What `expected` lists, as a FHIR server holds it. */
const fhirResources = () => [
  ...generateDataset({ patients: PATIENTS, seed: 1 }),
  generateGroup('demo-cohort', []),
];

async function kickoffSystemExport(client: BulkDataClient): Promise<string> {
  const kickoff = await client.kickoff('$export', { headers: { 'Cache-Control': 'no-cache' } });
  expect(kickoff.status).toBe(202);
  return kickoff.pollUrl as string;
}

async function expectExactExport(client: BulkDataClient, pollUrl: string): Promise<void> {
  const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 90_000, maxIntervalMs: 1000 });
  const { ids, duplicates } = await downloadSummary(client, manifest);
  expect(duplicates).toEqual([]);
  expect(ids).toEqual(expected);
}

describe.each(['searched', 'staged', 'written', 'checkpointed'] as const)(
  'crash after the %s phase of a page',
  (phase) => {
    const env: Record<string, string> = { EXPORT_RESOURCES_PER_PAGE: PAGE_SIZE };
    const app = new AppProcess({ env });

    const crashNextRunAt = async (page: number): Promise<void> => {
      await app.stop();
      env.LOCAL_CRASH_AT = `${phase}:${page}`;
      rmSync(path.join(app.dataDir, 'crash-injected'), { force: true });
    };

    beforeAll(() => seedPatients(app, PATIENTS));
    afterAll(() => app.dispose());

    it.each([0, 2])(
      `given an app that crashes after ${phase} of page %i, when it is restarted, then the export holds every resource exactly once`,
      async (page) => {
        await crashNextRunAt(page);
        const client = new BulkDataClient(await app.start());
        const pollUrl = await kickoffSystemExport(client);

        await waitForExit(app);
        // The injected crash, not something else, ended the process.
        expect(readFileSync(path.join(app.dataDir, 'crash-injected'), 'utf8')).toMatch(
          new RegExp(`^${phase}:${page} `),
        );
        await app.start();

        await expectExactExport(client, pollUrl);
      },
    );
  },
);

// With a FHIR REST source the next page is read ahead, and its block is staged ahead while a page
// checkpoints: a crash after a commit leaves a block under its staged-ahead id (see stageAhead.ts).
describe.each(['staged', 'written'] as const)(
  'crash after the %s phase of a page read from a FHIR server',
  (phase) => {
    let server: FhirTestServer;
    const env: Record<string, string> = { SOURCE_KIND: 'fhir', EXPORT_RESOURCES_PER_PAGE: PAGE_SIZE };
    const app = new AppProcess({ env });

    beforeAll(async () => {
      server = await startFhirTestServer({ linkStyle: 'cursor' });
      await server.seed(fhirResources());
      env.FHIR_SOURCE_URL = server.baseUrl;
    });
    afterAll(async () => {
      await app.dispose();
      await server?.close();
    });

    it(`given an app that crashes after ${phase} of page 1, when it is restarted, then the export holds every resource exactly once`, async () => {
      env.LOCAL_CRASH_AT = `${phase}:1`;
      const client = new BulkDataClient(await app.start());
      const pollUrl = await kickoffSystemExport(client);
      await waitForExit(app);
      expect(readFileSync(path.join(app.dataDir, 'crash-injected'), 'utf8')).toMatch(
        new RegExp(`^${phase}:1 `),
      );
      await app.start();
      await expectExactExport(client, pollUrl);
    });
  },
);

describe('the app killed while page searches are in flight', () => {
  // The source holds page searches after the first few until the test lets them through: the export
  // has progress and cannot finish before the kill, however fast or busy the machine is.
  let source: GatedFhirSource;
  const env: Record<string, string> = {
    SOURCE_KIND: 'fhir',
    EXPORT_RESOURCES_PER_PAGE: '10',
    EXPORT_TYPE_PARALLELISM: '2',
  };
  const app = new AppProcess({ env });
  beforeAll(async () => {
    source = await startGatedFhirSource(fhirResources());
    env.FHIR_SOURCE_URL = source.baseUrl;
  });
  afterAll(async () => {
    await app.dispose();
    await source?.close();
  });

  it('given a running export with progress and page searches held at the source, when the app is SIGKILLed and restarted, then the export holds every resource exactly once', async () => {
    const client = new BulkDataClient(await app.start());
    const pollUrl = await kickoffSystemExport(client);

    await eventually('a 202 that reports exported resources', async () => {
      const response = await fetch(pollUrl);
      await response.arrayBuffer();
      expect(response.status).toBe(202);
      return /[1-9]\d* (of \d+ )?resources/.test(response.headers.get('x-progress') ?? '') ? true : undefined;
    });
    await source.waitUntilHeld(1);
    await app.kill();
    source.open();
    await app.start();

    await expectExactExport(client, pollUrl);
  });
});
