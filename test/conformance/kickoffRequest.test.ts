/**
 * Bulk Data Access IG v2.0.0, "Bulk Data Kick-off Request": headers, levels, methods, parameter
 * validation and request reuse, as a client sees them on the wire.
 */
import {
  expectOperationOutcome,
  kickoff,
  parameters,
  request,
  startApp,
  type ConformanceApp,
  type RawResponse,
} from './conformanceSupport';

describe('Bulk Data kick-off request (IG v2.0.0)', () => {
  let target: ConformanceApp;

  beforeAll(async () => {
    target = await startApp();
  });
  afterAll(() => target.app.dispose());

  /** Asserts a 202 with an absolute poll URL, then deletes the job so it costs nothing further. */
  async function expectAccepted(response: RawResponse): Promise<string> {
    expect({ status: response.status, body: response.text }).toMatchObject({ status: 202 });
    const pollUrl = response.headers.get('content-location') ?? '';
    expect(pollUrl).toMatch(/^http:\/\/[^/]+\/api\/_operations\/export\/[0-9a-f-]{36}$/);
    await request(pollUrl, { method: 'DELETE' });
    return pollUrl;
  }

  it('SHALL answer a system-level GET kick-off with 202 Accepted and an absolute Content-Location', async () => {
    await expectAccepted(await kickoff(target.base, '$export', { query: '_type=Patient' }));
  });

  it.each([
    ['Patient/$export', 'GET'],
    ['Patient/$export', 'POST'],
    ['Group/demo-cohort/$export', 'GET'],
    ['Group/demo-cohort/$export', 'POST'],
    ['$export', 'POST'],
  ] as const)('SHALL accept a kick-off at %s with %s', async (path, method) => {
    const body = method === 'POST' ? parameters([['_type', 'Patient']]) : undefined;
    await expectAccepted(
      await kickoff(target.base, path, {
        method,
        body,
        query: method === 'GET' ? '_type=Patient' : undefined,
      }),
    );
  });

  it('SHALL reject a kick-off without Prefer: respond-async (400 OperationOutcome)', async () => {
    const response = await kickoff(target.base, '$export', { headers: { Prefer: null } });
    expectOperationOutcome(response, 400);
    expect(response.text).toMatch(/respond-async/);
  });

  it('SHALL reject an Accept header other than application/fhir+json (400 OperationOutcome)', async () => {
    expectOperationOutcome(
      await kickoff(target.base, '$export', { headers: { Accept: 'application/xml' } }),
      400,
    );
  });

  it('MAY process a kick-off without Accept as if application/fhir+json was sent', async () => {
    await expectAccepted(
      await kickoff(target.base, '$export', { query: '_type=Patient', headers: { Accept: null } }),
    );
  });

  it('SHALL accept the combined header Prefer: respond-async, handling=lenient', async () => {
    const response = await kickoff(target.base, '$export', {
      query: '_type=Patient&_unknownParameter=1',
      headers: { Prefer: 'respond-async, handling=lenient' },
    });
    await expectAccepted(response);
    expect(response.json?.warnings).toEqual([expect.stringMatching(/_unknownParameter/)]);
  });

  it('SHOULD reject an unsupported parameter without handling=lenient (400 OperationOutcome naming it)', async () => {
    const response = await kickoff(target.base, '$export', { query: '_unknownParameter=1' });
    expectOperationOutcome(response, 400);
    expect(response.text).toMatch(/_unknownParameter/);
  });

  it('SHOULD reject includeAssociatedData, which this server does not support, unless handling=lenient', async () => {
    const strict = await kickoff(target.base, '$export', {
      query: 'includeAssociatedData=LatestProvenanceResources',
    });
    expectOperationOutcome(strict, 400);
    expect(strict.text).toMatch(/includeAssociatedData/);
    await expectAccepted(
      await kickoff(target.base, '$export', {
        query: '_type=Patient&includeAssociatedData=LatestProvenanceResources',
        headers: { Prefer: 'respond-async; handling=lenient' },
      }),
    );
  });

  it('SHALL reject an _outputFormat other than the NDJSON spellings (400)', async () => {
    expectOperationOutcome(await kickoff(target.base, '$export', { query: '_outputFormat=text/csv' }), 400);
  });

  it('SHALL reject a _since that is not a FHIR instant (400)', async () => {
    expectOperationOutcome(await kickoff(target.base, '$export', { query: '_since=2024-13-01' }), 400);
  });

  it('SHOULD reject an unknown resource type in _type unless handling=lenient', async () => {
    expectOperationOutcome(await kickoff(target.base, '$export', { query: '_type=Patient,Spaceship' }), 400);
    await expectAccepted(
      await kickoff(target.base, '$export', {
        query: '_type=Patient,Spaceship',
        headers: { Prefer: 'respond-async, handling=lenient' },
      }),
    );
  });

  it.each(['_include=Observation:subject', '_sort=date', '_revinclude=Provenance:target'])(
    'SHALL reject a _typeFilter that uses %s (400)',
    async (query) => {
      const response = await kickoff(target.base, '$export', {
        query: `_typeFilter=${encodeURIComponent(`Observation?status=final&${query}`)}`,
      });
      expectOperationOutcome(response, 400);
    },
  );

  it('SHOULD reject at kick-off a _typeFilter the source cannot apply, and ignore it under handling=lenient', async () => {
    // The Cosmos DB source applies _id, status and code filters; category is not among them.
    const query = `_type=Observation&_typeFilter=${encodeURIComponent('Observation?category=laboratory')}`;
    const refused = await kickoff(target.base, '$export', { query });
    expectOperationOutcome(refused, 400);
    expect(refused.text).toMatch(/category/);
    const lenient = await kickoff(target.base, '$export', {
      query,
      headers: { Prefer: 'respond-async, handling=lenient' },
    });
    expect(JSON.parse(lenient.text).warnings.join(' ')).toMatch(/category/);
    await expectAccepted(lenient);
  });

  it('SHALL accept the patient parameter only with POST (GET and system level are 400)', async () => {
    expectOperationOutcome(
      await kickoff(target.base, 'Patient/$export', { query: 'patient=Patient/pat-000001' }),
      400,
    );
    expectOperationOutcome(
      await kickoff(target.base, '$export', { body: parameters([['patient', 'Patient/pat-000001']]) }),
      400,
    );
  });

  it('SHALL reject a POST body that is not a Parameters resource (400)', async () => {
    expectOperationOutcome(await kickoff(target.base, '$export', { body: { resourceType: 'Patient' } }), 400);
  });

  it('SHALL answer a Group kick-off for an unknown Group with 404 and an OperationOutcome naming it', async () => {
    const response = await kickoff(target.base, 'Group/no-such-group/$export');
    expectOperationOutcome(response, 404);
    expect(response.text).toMatch(/Group no-such-group was not found/);
  });

  it('SHALL reject a type outside the Patient compartment at the Patient level (400)', async () => {
    expectOperationOutcome(
      await kickoff(target.base, 'Patient/$export', { query: '_type=Organization' }),
      400,
    );
  });

  it('reuses the running job for an identical kick-off (same Content-Location) unless Cache-Control: no-cache', async () => {
    const query = '_type=Patient,Condition&_since=2020-01-01T00:00:00Z';
    const first = await kickoff(target.base, '$export', { query });
    const again = await kickoff(target.base, '$export', { query });
    const fresh = await kickoff(target.base, '$export', { query, headers: { 'Cache-Control': 'no-cache' } });
    expect([first.status, again.status, fresh.status]).toEqual([202, 202, 202]);
    const firstUrl = first.headers.get('content-location');
    expect(again.headers.get('content-location')).toBe(firstUrl);
    expect(again.json?.reused).toBe(true);
    expect(fresh.headers.get('content-location')).not.toBe(firstUrl);
    for (const url of new Set([firstUrl, fresh.headers.get('content-location')])) {
      await request(url as string, { method: 'DELETE' });
    }
  });
});
