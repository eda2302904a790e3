/**
 * `_type` and `_typeFilter` against the types the data source supports (Bulk Data Access IG v2.0.0,
 * "Query parameters": a server SHOULD reject a type it does not support unless handling is lenient).
 * The source is a FHIR server (test/support/fhirTestServer.ts) whose CapabilityStatement lacks
 * `Device` and whose `Device` searches answer 404, as a real server's do.
 */
import { countJobDocuments } from '../support/e2eHelpers';
import { downloadAll } from '../support/exportFixtures';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';
import {
  expectOperationOutcome,
  ids,
  kickoff,
  parameters,
  seededResources,
  startFhirSourceApp,
  types,
  type ConformanceApp,
} from './conformanceSupport';

const UNSUPPORTED = 'Device';
const LENIENT = { Prefer: 'respond-async, handling=lenient' };

describe('Bulk Data _type against the types of a FHIR REST source (IG v2.0.0)', () => {
  let server: FhirTestServer;
  let target: ConformanceApp;
  const seeded = seededResources();

  beforeAll(async () => {
    server = await startFhirTestServer({ unsupportedTypes: [UNSUPPORTED] });
    await server.seed(seeded);
    target = await startFhirSourceApp(server.baseUrl);
  });
  afterAll(async () => {
    await target?.app.dispose();
    await server?.close();
  });

  const seededIds = (type: string) =>
    seeded
      .filter((r) => r.resourceType === type)
      .map((r) => r.id)
      .sort();

  it.each([
    ['GET _type', { query: `_type=Patient,${UNSUPPORTED}` }, /Device \(named in _type\)/],
    ['POST _type', { body: parameters([['_type', `Patient,${UNSUPPORTED}`]]) }, /Device \(named in _type\)/],
    [
      '_typeFilter',
      { query: `_typeFilter=${encodeURIComponent(`${UNSUPPORTED}?status=active`)}` },
      /Device \(named in _typeFilter\)/,
    ],
  ])(
    'SHOULD reject a type the source does not support (%s) with 400 naming it, creating no job',
    async (_how, init, named) => {
      const before = await countJobDocuments(target.app);
      const answer = await kickoff(target.base, '$export', {
        ...init,
        headers: { 'Cache-Control': 'no-cache' },
      });
      const outcome = expectOperationOutcome(answer, 400);
      expect(JSON.stringify(outcome)).toMatch(named);
      expect(await countJobDocuments(target.app)).toBe(before);
    },
  );

  it('ignores, under handling=lenient, a type the source does not support: 202 with a warning, the other types exported exactly', async () => {
    const accepted = await kickoff(target.base, '$export', {
      query: `_type=Patient,Observation,${UNSUPPORTED}`,
      headers: { ...LENIENT, 'Cache-Control': 'no-cache' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.json?.warnings).toEqual([`Ignored ${UNSUPPORTED}: the data source does not support it.`]);
    const pollUrl = accepted.headers.get('content-location') as string;
    const manifest = await target.client.waitForManifest(pollUrl, { timeoutMs: 60_000 });
    const { resources } = await downloadAll(target.client, manifest);
    expect(types(resources)).toEqual(['Observation', 'Patient']);
    expect(ids(resources, 'Patient')).toEqual(seededIds('Patient'));
    expect(ids(resources, 'Observation')).toEqual(seededIds('Observation'));
    // The warning is in the manifest's error file too, as every lenient warning is.
    expect(manifest.error).toHaveLength(1);
    const warnings = await target.client.download(manifest.error[0].url);
    expect(warnings).toContain(`Ignored ${UNSUPPORTED}: the data source does not support it.`);
  });

  it('answers 400, under handling=lenient, when _type names only types the source does not support (nothing is left to export)', async () => {
    const before = await countJobDocuments(target.app);
    const answer = await kickoff(target.base, '$export', {
      query: `_type=${UNSUPPORTED}`,
      headers: { ...LENIENT, 'Cache-Control': 'no-cache' },
    });
    const outcome = expectOperationOutcome(answer, 400);
    expect(JSON.stringify(outcome)).toMatch(/_type names no resource type that the data source supports/);
    expect(await countJobDocuments(target.app)).toBe(before);
  });
});
