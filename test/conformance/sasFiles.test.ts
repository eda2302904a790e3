/**
 * Bulk Data Access IG v2.0.0 file requests in SAS mode (`EXPORT_FILE_ACCESS=sas`): the manifest says
 * `requiresAccessToken: false` and its URLs are short-lived Blob Storage SAS URLs that any HTTP client
 * fetches without a token.
 */
import { kickoff, request, seededResources, startApp, type ConformanceApp } from './conformanceSupport';
import { testConnectionInfo } from '../support/testEnv';

describe('Bulk Data files as SAS URLs (IG v2.0.0, requiresAccessToken false)', () => {
  let target: ConformanceApp;

  beforeAll(async () => {
    target = await startApp({ EXPORT_FILE_ACCESS: 'sas' });
  });
  afterAll(() => target.app.dispose());

  it('SHALL set requiresAccessToken false and give absolute URLs that plain fetch downloads as NDJSON', async () => {
    const accepted = await kickoff(target.base, '$export', { query: '_type=Patient,Condition' });
    expect(accepted.status).toBe(202);
    const manifest = await target.client.waitForManifest(accepted.headers.get('content-location') as string);
    expect(manifest.requiresAccessToken).toBe(false);
    expect(manifest.output.length).toBeGreaterThan(0);
    const blobEndpoint = testConnectionInfo().blobEndpoint.replace(/\/+$/, '');
    const seeded = seededResources();
    for (const entry of manifest.output) {
      expect(entry.url.startsWith(`${blobEndpoint}/`)).toBe(true);
      expect(new URL(entry.url).searchParams.get('sig')).toBeTruthy();
      const file = await request(entry.url);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('application/fhir+ndjson');
      const lines = file.text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as { resourceType: string });
      expect(lines).toHaveLength(entry.count as number);
      for (const line of lines) expect(line.resourceType).toBe(entry.type);
      expect(entry.count).toBe(seeded.filter((r) => r.resourceType === entry.type).length);
    }
  });
});
