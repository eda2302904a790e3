/**
 * Authentication, scopes, per-client isolation and limits, end to end: the compiled app with
 * AUTH_MODE=jwt against a local identity provider, tokens signed on the spot.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import { call, expectOutcome } from '../support/apiCalls';
import { AppProcess } from '../support/appProcess';
import { downloadAll, expectedKeys, idsByType, seedPatients } from '../support/exportFixtures';
import {
  jwtAuthEnv,
  startLocalIdentityProvider,
  type LocalIdentityProvider,
} from '../support/localIdentityProvider';

const PATIENTS = 2;
const KICKOFF_RATE = 5;
const MAX_BODY = 64 * 1024;
const KICKOFF_HEADERS = { Accept: 'application/fhir+json', Prefer: 'respond-async' };

describe('security: authentication, scopes and isolation (AUTH_MODE=jwt, compiled app)', () => {
  let idp: LocalIdentityProvider;
  let app: AppProcess;
  let base: string;
  /** A completed export of client A, used by the isolation tests. */
  let jobA: { pollUrl: string; manifest: Manifest };
  const tokenFor = (client: string, scope = 'system/*.read') =>
    idp.sign({ azp: client, sub: client, scope }, { expiresInSeconds: 1800 });

  beforeAll(async () => {
    idp = await startLocalIdentityProvider();
    app = new AppProcess({
      env: {
        ...jwtAuthEnv(idp),
        EXPORT_KICKOFF_RATE_PER_MINUTE: String(KICKOFF_RATE),
        MAX_REQUEST_BODY_BYTES: String(MAX_BODY),
      },
    });
    await seedPatients(app, PATIENTS);
    base = await app.start();
  });
  afterAll(async () => {
    await app.dispose();
    await idp.close();
  });

  it('given no token, when the CapabilityStatement is read, then it answers 200', async () => {
    const answer = await call(`${base}/metadata`);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).resourceType).toBe('CapabilityStatement');
  });

  it('given no token, when any API call is made, then it answers 401 with a bare Bearer challenge', async () => {
    const unknownJob = `${base}/_operations/export/${randomUUID()}`;
    for (const [method, url] of [
      ['GET', `${base}/$export`],
      ['POST', `${base}/Patient/$export`],
      ['GET', `${base}/Group/demo-cohort/$export`],
      ['GET', unknownJob],
      ['DELETE', unknownJob],
      ['GET', `${unknownJob}/files/Patient-1.ndjson`],
    ] as const) {
      const answer = await call(url, { method, headers: KICKOFF_HEADERS });
      expectOutcome(answer, 401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="fhir-export"');
    }
  });

  describe('given a token that must be refused', () => {
    const cases: Array<[string, () => string]> = [
      ['expired', () => idp.sign({}, { expiresInSeconds: -3600 })],
      ['for another audience', () => idp.sign({ aud: 'api://someone-else' })],
      ['from another issuer', () => idp.sign({ iss: 'https://issuer.invalid/' })],
      [
        'with a bad signature',
        () => idp.sign({}, { privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }),
      ],
      ['with alg none', () => idp.sign({}, { alg: 'none' })],
      ['with alg HS256', () => idp.sign({}, { alg: 'HS256' })],
      ['that is garbage', () => 'not.a.jwt'],
    ];
    it.each(cases)(
      'when it is %s, then kick-off answers 401 invalid_token without echoing it',
      async (_name, make) => {
        const token = make();
        const answer = await call(`${base}/$export`, { token, headers: KICKOFF_HEADERS });
        expectOutcome(answer, 401);
        expect(answer.headers.get('www-authenticate')).toMatch(
          /^Bearer realm="fhir-export", error="invalid_token"/,
        );
        expect(answer.body).not.toContain(token);
        expect(answer.headers.get('www-authenticate')).not.toContain(token);
      },
    );
  });

  it('given a malformed Authorization header, then it answers 401 invalid_request', async () => {
    const answer = await call(`${base}/$export`, {
      headers: { ...KICKOFF_HEADERS, Authorization: 'Bearer a b' },
    });
    expectOutcome(answer, 401);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
  });

  it('given only system/Patient.read, when Observation is asked for, then it answers 403 insufficient_scope', async () => {
    const token = tokenFor('patients-only', 'system/Patient.read');
    const answer = await call(`${base}/$export?_type=Observation`, { token, headers: KICKOFF_HEADERS });
    const outcome = expectOutcome(answer, 403);
    expect(JSON.stringify(outcome)).toContain('Observation');
    expect(answer.headers.get('www-authenticate')).toMatch(
      /error="insufficient_scope".*scope="system\/Observation.rs"/,
    );
    // Without _type the export covers every type, so the narrow scope does not allow it either.
    expectOutcome(await call(`${base}/$export`, { token, headers: KICKOFF_HEADERS }), 403);
  });

  it('given only system/Patient.read, when Patient alone is asked for, then the export runs and holds only Patient', async () => {
    const client = new BulkDataClient(base, { token: tokenFor('patients-only', 'system/Patient.read') });
    const kickoff = await client.kickoff('$export', { query: '_type=Patient' });
    expect(kickoff.status).toBe(202);
    const manifest = await client.waitForManifest(kickoff.pollUrl as string);
    expect(manifest.output.length).toBeGreaterThan(0);
    expect(new Set(manifest.output.map((o) => o.type))).toEqual(new Set(['Patient']));
  });

  it('given a valid token, when a system export runs, then it completes with exactly the source data', async () => {
    const client = new BulkDataClient(base, { token: tokenFor('client-a') });
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);
    expect(kickoff.pollUrl).toMatch(
      /\/_operations\/export\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // The durable management URLs carry the host's system key on Azure: never handed to a client.
    expect(kickoff.body).not.toMatch(
      /statusQueryGetUri|terminatePostUri|purgeHistoryDeleteUri|runtime\/webhooks/,
    );

    const manifest = await client.waitForManifest(kickoff.pollUrl as string, { maxIntervalMs: 500 });
    expect(manifest.requiresAccessToken).toBe(true);
    const { resources } = await downloadAll(client, manifest);
    const expected = Object.fromEntries([...expectedKeys(PATIENTS)].map(([t, ids]) => [t, [...ids].sort()]));
    expect(idsByType(resources)).toEqual(expected);
    jobA = { pollUrl: kickoff.pollUrl as string, manifest };

    // Files need the token too.
    expectOutcome(await call(manifest.output[0].url), 401);
  });

  it("given client A's job, when client B polls, cancels or downloads it, then each answer equals a missing job's", async () => {
    expect(jobA).toBeDefined();
    const tokenB = tokenFor('client-b');
    const missing = `${base}/_operations/export/${randomUUID()}`;
    const fileName = jobA.manifest.output[0].url.split('/').pop() as string;

    const pairs: Array<[string, string, string]> = [
      ['GET', jobA.pollUrl, missing],
      ['DELETE', jobA.pollUrl, missing],
      ['GET', `${jobA.pollUrl}/files/${fileName}`, `${missing}/files/${fileName}`],
    ];
    for (const [method, theirs, nobodys] of pairs) {
      const other = await call(theirs, { method, token: tokenB });
      const absent = await call(nobodys, { method, token: tokenB });
      expectOutcome(other, 404);
      expect(other.body).toBe(absent.body);
      expect(other.headers.get('content-type')).toBe(absent.headers.get('content-type'));
    }

    // B's attempts changed nothing: A still gets the manifest.
    const ownerView = await call(jobA.pollUrl, { token: tokenFor('client-a') });
    expect(ownerView.status).toBe(200);
  });

  it('given path tricks in a file name, when the owner downloads, then only manifest names are served', async () => {
    expect(jobA).toBeDefined();
    const token = tokenFor('client-a');
    const jobId = jobA.pollUrl.split('/').pop() as string;
    const fileName = jobA.manifest.output[0].url.split('/').pop() as string;
    const ok = await call(`${jobA.pollUrl}/files/${fileName}`, { token });
    expect(ok.status).toBe(200);
    for (const trick of [
      `..%2F..%2F${fileName}`,
      `..%2f${jobId}%2f${fileName}`,
      `${jobId}%2F${fileName}`,
      `%2e%2e%2F${fileName}`,
      `${fileName}%00`,
      `${encodeURIComponent(fileName)}%2F..`,
      '%zz',
      `${fileName.toUpperCase()}`,
    ]) {
      expectOutcome(await call(`${jobA.pollUrl}/files/${trick}`, { token }), 404);
    }
    // Another job's own files (by name) are not this job's: a job id that is not the caller's.
    expectOutcome(await call(`${base}/_operations/export/${randomUUID()}/files/${fileName}`, { token }), 404);
  });

  it('given a body over MAX_REQUEST_BODY_BYTES, when a POST kick-off is sent, then it answers 413', async () => {
    const body = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [{ name: '_type', valueString: 'Patient'.padEnd(MAX_BODY + 10, ' ') }],
    });
    const answer = await call(`${base}/$export`, {
      method: 'POST',
      token: tokenFor('big-body'),
      body,
      headers: { ...KICKOFF_HEADERS, 'Content-Type': 'application/fhir+json' },
    });
    expectOutcome(answer, 413);
  });

  it('given one client kicking off faster than the rate, then it gets 429 with Retry-After and others do not', async () => {
    const token = tokenFor('burst-client');
    // Invalid kick-offs count as well (the limit applies before parsing) and create no job.
    for (let i = 0; i < KICKOFF_RATE; i++) {
      expectOutcome(await call(`${base}/$export?_type=NotAType`, { token, headers: KICKOFF_HEADERS }), 400);
    }
    const limited = await call(`${base}/$export?_type=NotAType`, { token, headers: KICKOFF_HEADERS });
    expectOutcome(limited, 429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const other = await call(`${base}/$export?_type=NotAType`, {
      token: tokenFor('calm-client'),
      headers: KICKOFF_HEADERS,
    });
    expectOutcome(other, 400);
  });
});
