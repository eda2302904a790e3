/**
 * Attacks on a client's own jobs and on the storage account, against the compiled app with
 * AUTH_MODE=jwt on the emulators (issue #21, items 1–3):
 * - a token of the job's own client with narrower scopes, or a user-delegated token issued to the
 *   same app, reading, downloading or cancelling what its scopes do not cover;
 * - `_container` naming a container of the storage account that is not an export container;
 * - SAS links that outlive the job, or that read more than their one blob.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import { call, expectOutcome } from '../support/apiCalls';
import { AppProcess } from '../support/appProcess';
import { seedPatients } from '../support/exportFixtures';
import {
  jwtAuthEnv,
  startLocalIdentityProvider,
  type LocalIdentityProvider,
} from '../support/localIdentityProvider';
import { testConnectionInfo, uniqueName } from '../support/testEnv';

const CLIENT = 'client-a';
const KICKOFF_HEADERS = { Accept: 'application/fhir+json', Prefer: 'respond-async' };
/** An export container the allow-list admits (`export-*`). */
const ALLOWED_CONTAINER = `export-${uniqueName('t')}`;

const fileNameOf = (url: string) => url.split('/').pop() as string;

describe('security: access to a job by the scopes of the calling token (compiled app, AUTH_MODE=jwt)', () => {
  let idp: LocalIdentityProvider;
  let app: AppProcess;
  let base: string;
  /** A completed system export of every type, started with `system/*.read`. */
  let job: { pollUrl: string; manifest: Manifest };
  const tokenFor = (scope: string, claims: Record<string, unknown> = {}) =>
    idp.sign({ azp: CLIENT, sub: CLIENT, scope, ...claims }, { expiresInSeconds: 1800 });
  const fullToken = () => tokenFor('system/*.read');

  beforeAll(async () => {
    ({ idp, app, base } = await startSecuredApp({ EXPORT_ALLOWED_CONTAINERS: 'export-*' }));
    const client = new BulkDataClient(base, { token: fullToken() });
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);
    const pollUrl = kickoff.pollUrl as string;
    job = { pollUrl, manifest: await client.waitForManifest(pollUrl, { maxIntervalMs: 500 }) };
    expect(job.manifest.output.map((o) => o.type)).toEqual(
      expect.arrayContaining(['Patient', 'Observation']),
    );
  });
  afterAll(async () => {
    await app.dispose();
    await idp.close();
  });

  const entriesOf = (type: string) => job.manifest.output.filter((o) => o.type === type);

  describe.each([
    ['v1', 'system/Patient.read'],
    ['v2', 'system/Patient.rs'],
  ])('given the same client with only Patient (%s: %s)', (_syntax, scope) => {
    it('when it polls, then the manifest lists the Patient files only', async () => {
      const answer = await call(job.pollUrl, { token: tokenFor(scope) });
      expect(answer.status).toBe(200);
      const manifest = JSON.parse(answer.body) as Manifest;
      expect(manifest.output.map((o) => o.url)).toEqual(entriesOf('Patient').map((o) => o.url));
    });

    it('when it downloads a file of another type, then it answers 403; its own type downloads', async () => {
      const token = tokenFor(scope);
      const observation = entriesOf('Observation')[0];
      const refused = await call(`${job.pollUrl}/files/${fileNameOf(observation.url)}`, { token });
      expectOutcome(refused, 403);
      expect(refused.headers.get('www-authenticate')).toMatch(
        /error="insufficient_scope".*scope="system\/Observation.rs"/,
      );
      const patient = await call(entriesOf('Patient')[0].url, { token });
      expect(patient.status).toBe(200);
    });

    it('when it cancels the job, then it answers 403 and the job and its files stay', async () => {
      expectOutcome(await call(job.pollUrl, { method: 'DELETE', token: tokenFor(scope) }), 403);
      const owner = await call(job.pollUrl, { token: fullToken() });
      expect(owner.status).toBe(200);
      const file = await call(entriesOf('Observation')[0].url, { token: fullToken() });
      expect(file.status).toBe(200);
    });
  });

  describe.each([
    ['a user-delegated token of the same app (user/*.read)', { scope: 'user/*.read', sub: 'some-user' }],
    [
      'a user-delegated Entra token (scp user/*.rs)',
      { scope: undefined, scp: 'user/*.rs', sub: 'some-user' },
    ],
    ['patient/*.read', { scope: 'patient/*.read' }],
    ['read without search (system/*.r)', { scope: 'system/*.r' }],
    [
      'a query-restricted scope (system/Observation.rs?category=laboratory)',
      { scope: 'system/Observation.rs?category=laboratory' },
    ],
    ['write only (system/*.write)', { scope: 'system/*.write' }],
  ])('given %s', (_name, claims) => {
    it('when it polls, downloads or cancels, then each answers 403 and nothing changes', async () => {
      const token = idp.sign({ azp: CLIENT, sub: CLIENT, ...claims }, { expiresInSeconds: 1800 });
      expectOutcome(await call(job.pollUrl, { token }), 403);
      for (const entry of job.manifest.output) expectOutcome(await call(entry.url, { token }), 403);
      expectOutcome(await call(job.pollUrl, { method: 'DELETE', token }), 403);
      expect((await call(job.pollUrl, { token: fullToken() })).status).toBe(200);
    });
  });

  it('given a job started with only Patient, when that token cancels it, then it answers 202', async () => {
    const client = new BulkDataClient(base, { token: tokenFor('system/Patient.rs') });
    const kickoff = await client.kickoff('$export', { query: '_type=Patient' });
    expect(kickoff.status).toBe(202);
    expect(await client.cancel(kickoff.pollUrl as string)).toBe(202);
    expectOutcome(await call(kickoff.pollUrl as string, { token: fullToken() }), 404);
  });

  describe('given _container', () => {
    const storage = () =>
      BlobServiceClient.fromConnectionString(testConnectionInfo().storageConnectionString);

    it.each(['azure-webjobs-secrets', 'azure-webjobs-hosts', 'app-package', uniqueName('other')])(
      'when it names %s, which the allow-list does not admit, then kick-off answers 400 and writes nothing there',
      async (container) => {
        const before = await blobNames(storage(), container);
        const answer = await call(`${base}/$export?_type=Patient&_container=${container}`, {
          token: fullToken(),
          headers: KICKOFF_HEADERS,
        });
        const outcome = expectOutcome(answer, 400);
        expect(JSON.stringify(outcome)).toMatch(/not a container this server exports to/);
        // Even lenient handling does not ignore it.
        const lenient = await call(`${base}/$export?_type=Patient&_container=${container}`, {
          token: fullToken(),
          headers: { ...KICKOFF_HEADERS, Prefer: 'respond-async, handling=lenient' },
        });
        expectOutcome(lenient, 400);
        const jobFiles = (names: string[]) => names.filter((n) => /^[0-9a-f-]{36}\//.test(n));
        expect(jobFiles(await blobNames(storage(), container))).toEqual(jobFiles(before));
      },
    );

    it('when it names a container the allow-list admits, then the export writes there', async () => {
      const client = new BulkDataClient(base, { token: fullToken() });
      const kickoff = await client.kickoff('$export', {
        query: `_type=Patient&_container=${ALLOWED_CONTAINER}`,
      });
      expect(kickoff.status).toBe(202);
      const manifest = await client.waitForManifest(kickoff.pollUrl as string, { maxIntervalMs: 500 });
      const jobId = fileNameOf(kickoff.pollUrl as string);
      const names = await blobNames(storage(), ALLOWED_CONTAINER);
      expect(names.filter((n) => n.startsWith(`${jobId}/`))).toHaveLength(manifest.output.length);
    });
  });
});

describe('security: SAS links (compiled app, EXPORT_FILE_ACCESS=sas)', () => {
  let idp: LocalIdentityProvider;
  let app: AppProcess;
  let base: string;
  let manifest: Manifest;
  let expires: number;
  const tokenFor = (scope: string) =>
    idp.sign({ azp: CLIENT, sub: CLIENT, scope }, { expiresInSeconds: 1800 });

  beforeAll(async () => {
    ({ idp, app, base } = await startSecuredApp({
      EXPORT_FILE_ACCESS: 'sas',
      // Links asked to live a week, files kept an hour: the links must end with the files.
      EXPORT_SAS_LIFETIME_MINUTES: String(7 * 24 * 60),
      EXPORT_FILE_RETENTION_HOURS: '1',
    }));
    const client = new BulkDataClient(base, { token: tokenFor('system/*.read') });
    const kickoff = await client.kickoff('$export', { query: '_type=Patient,Observation' });
    expect(kickoff.status).toBe(202);
    manifest = await client.waitForManifest(kickoff.pollUrl as string, { maxIntervalMs: 500 });
    const status = await call(kickoff.pollUrl as string, { token: tokenFor('system/*.read') });
    expires = Date.parse(status.headers.get('expires') as string);
  });
  afterAll(async () => {
    await app.dispose();
    await idp.close();
  });

  it('given a manifest, then every link expires no later than the job (Expires), reads one blob only', () => {
    expect(manifest.requiresAccessToken).toBe(false);
    expect(manifest.output.length).toBeGreaterThan(0);
    for (const entry of manifest.output) {
      const sas = new URL(entry.url).searchParams;
      // `Expires` has whole seconds; the link's end is the job's end, so within that second.
      expect(Date.parse(sas.get('se') as string)).toBeLessThanOrEqual(expires + 999);
      expect(Date.parse(sas.get('se') as string)).toBeGreaterThan(Date.now());
      expect(sas.get('sp')).toBe('r');
      expect(sas.get('sr')).toBe('b');
      // HTTPS only, but for an emulator on loopback, which speaks plain HTTP.
      expect(sas.get('spr')).toBe('https,http');
    }
  });

  it('given a link, when it is used to list, write or read another blob, then storage refuses', async () => {
    const entry = manifest.output[0];
    const url = new URL(entry.url);
    expect((await fetch(url)).status).toBe(200);

    const list = new URL(url);
    list.pathname = url.pathname.slice(0, url.pathname.lastIndexOf('/', url.pathname.lastIndexOf('/') - 1));
    list.searchParams.set('restype', 'container');
    list.searchParams.set('comp', 'list');
    expect((await fetch(list)).status).toBe(403);

    const write = await fetch(url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-Type': 'application/fhir+ndjson' },
      body: '{"resourceType":"Patient","id":"forged"}\n',
    });
    expect(write.status).toBe(403);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(403);

    const other = manifest.output.find((o) => o.type !== entry.type) as { url: string };
    const sibling = new URL(url);
    sibling.pathname = new URL(other.url).pathname;
    expect((await fetch(sibling)).status).toBe(403);
  });

  it('given a token with only Patient, then its manifest carries no link to another type', async () => {
    const answer = await call(`${base}/_operations/export/${manifestJobId(manifest)}`, {
      token: tokenFor('system/Patient.rs'),
    });
    expect(answer.status).toBe(200);
    const narrow = JSON.parse(answer.body) as Manifest;
    expect(narrow.output.length).toBeGreaterThan(0);
    expect(narrow.output.every((o) => o.type === 'Patient')).toBe(true);
  });
});

/** A local identity provider and the app with AUTH_MODE=jwt against it and `env`, seeded with two patients. */
async function startSecuredApp(
  env: Record<string, string>,
): Promise<{ idp: LocalIdentityProvider; app: AppProcess; base: string }> {
  const idp = await startLocalIdentityProvider();
  const app = new AppProcess({ env: { ...jwtAuthEnv(idp), ...env } });
  await seedPatients(app, 2);
  return { idp, app, base: await app.start() };
}

/** The job id of a SAS manifest: the first path segment of its files' blob names. */
function manifestJobId(manifest: Manifest): string {
  const segments = new URL(manifest.output[0].url).pathname.split('/');
  return segments[segments.length - 2];
}

/** The names of the blobs in a container of the test storage account ([] when it does not exist). */
async function blobNames(service: BlobServiceClient, container: string): Promise<string[]> {
  const client = service.getContainerClient(container);
  if (!(await client.exists())) return [];
  const names: string[] = [];
  for await (const blob of client.listBlobsFlat()) names.push(blob.name);
  return names;
}
