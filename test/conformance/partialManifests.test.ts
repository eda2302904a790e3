/**
 * Bulk Data Access IG v3.0.0 `allowPartialManifests`: while an export runs, a poll may answer its
 * 202 with a manifest of the files already available; a manifest may be split into pages linked
 * with `link: [{ relation: 'next', url }]`; a manifest once returned never changes but for that link,
 * and a file once listed never changes.
 *
 * The export reads from a FHIR source that holds page searches after the first few until the test
 * opens the gate, so the export is certainly running while the test reads its partial manifests.
 * Pages of two resources and files that roll over at 1 KiB make dozens of files; a manifest page
 * lists at most three. The `error` files are paged like `output`: written when the export completes,
 * they go on a page appended then, and no page read before changes.
 */
import type { BulkDataClient } from '../../dev/client/bulkDataClient';
import { eventually } from '../support/e2eHelpers';
import { GATED_SOURCE_APP_ENV, startGatedFhirSource, type GatedFhirSource } from '../support/gatedFhirSource';
import {
  expectOperationOutcome,
  keys,
  kickoff,
  request,
  seededResources,
  startApp,
  type ConformanceApp,
  type RawResponse,
} from './conformanceSupport';

const PAGE_FILES = 3;

interface ManifestPage {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count: number }>;
  error: Array<{ type: string; url: string; count?: number }>;
  link?: Array<{ relation: string; url: string }>;
}

/** A manifest page as read at `url`, with the status it was answered with. */
interface ReadPage {
  url: string;
  status: number;
  manifest: ManifestPage;
}

/** The pages of a manifest: the one answered at `url` (already read as `first`), then each `next`. */
async function readChain(url: string, first: RawResponse): Promise<ReadPage[]> {
  const pages: ReadPage[] = [{ url, status: first.status, manifest: first.json as unknown as ManifestPage }];
  for (;;) {
    const links = pages[pages.length - 1].manifest.link ?? [];
    if (links.length === 0) return pages;
    expect(links).toHaveLength(1);
    expect(links[0].relation).toBe('next');
    const response = await request(links[0].url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    pages.push({ url: links[0].url, status: 200, manifest: response.json as unknown as ManifestPage });
  }
}

const urlsOf = (pages: ReadPage[]) => pages.flatMap((p) => p.manifest.output.map((o) => o.url));

/** An app exporting from `source` in small files, a few files a manifest page. */
function startPagedApp(source: GatedFhirSource): Promise<ConformanceApp> {
  return startApp({
    EXPORT_RESOURCES_PER_PAGE: '2',
    EXPORT_FILE_ROLL_BYTES: '1024',
    EXPORT_MANIFEST_PAGE_FILES: String(PAGE_FILES),
    EXPORT_TYPE_PARALLELISM: '2',
    SOURCE_KIND: 'fhir',
    FHIR_SOURCE_URL: source.baseUrl,
    ...GATED_SOURCE_APP_ENV,
  });
}

/** Polls `pollUrl` until it answers a 202 with a partial manifest. */
function partialManifest(pollUrl: string): Promise<RawResponse> {
  return eventually('a 202 with a partial manifest', async () => {
    const response = await request(pollUrl);
    expect(response.status).toBe(202);
    return response.json ? response : undefined;
  });
}

describe('allowPartialManifests: partial and paged manifests (IG v3.0.0)', () => {
  let source: GatedFhirSource;
  let target: ConformanceApp;
  let client: BulkDataClient;

  beforeAll(async () => {
    source = await startGatedFhirSource(seededResources(), { fastPages: 12 });
    target = await startPagedApp(source);
    client = target.client;
  });
  afterAll(async () => {
    await target?.app.dispose();
    await source?.close();
  });

  it('MAY answer a poll of a running export with a 202 and a manifest of its finished files; neither ever changes, and the final manifest pages list every file once', async () => {
    const accepted = await kickoff(target.base, '$export', {
      query: 'allowPartialManifests=true',
      headers: { 'Cache-Control': 'no-cache' },
    });
    expect(accepted.status).toBe(202);
    const pollUrl = accepted.headers.get('content-location') as string;

    // Held at the gate with some files closed: the poll lists them.
    await source.waitUntilHeld(2);
    const first = await partialManifest(pollUrl);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.headers.get('x-progress')).toBeTruthy();
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    const running = await readChain(pollUrl, first);
    const early = running[0].manifest;
    expect(early.request).toBe(`${target.base}/$export?allowPartialManifests=true`);
    expect(early.requiresAccessToken).toBe(true);
    expect(early.error).toEqual([]);
    expect(urlsOf(running).length).toBeGreaterThan(0);

    // A running export whose kick-off did not ask for it answers a bare 202, as ever.
    const plain = await kickoff(target.base, '$export', { headers: { 'Cache-Control': 'no-cache' } });
    const plainPollUrl = plain.headers.get('content-location') as string;
    await source.waitUntilHeld(4);
    const plainPoll = await request(plainPollUrl);
    expect(plainPoll.status).toBe(202);
    expect(plainPoll.text).toBe('');

    // The files listed early, downloaded while the export still runs.
    const earlyBytes = new Map<string, string>();
    for (const page of running) {
      for (const entry of page.manifest.output) earlyBytes.set(entry.url, await client.download(entry.url));
    }

    // Every page a poll returns, from now until the export completes.
    const seen = [...running];
    source.open();
    const done = await eventually(
      'the export to complete',
      async () => {
        const response = await request(pollUrl);
        if (response.status === 200) return response;
        expect(response.status).toBe(202);
        if (response.json) seen.push(...(await readChain(pollUrl, response)));
        return undefined;
      },
      120_000,
      100,
    );
    expect(done.headers.get('content-type')).toMatch(/^application\/json/);
    const final = await readChain(pollUrl, done);

    // Paging: every page within the page size, each file on exactly one page.
    for (const page of [...seen, ...final])
      expect(page.manifest.output.length).toBeLessThanOrEqual(PAGE_FILES);
    const finalUrls = urlsOf(final);
    expect(new Set(finalUrls).size).toBe(finalUrls.length);
    expect(final.length).toBeGreaterThan(1);
    for (const page of final) {
      expect(page.manifest.transactionTime).toBe(early.transactionTime);
      expect(page.manifest.request).toBe(early.request);
      // Nothing was ignored at kick-off: no page lists an error file.
      expect(page.manifest.error).toEqual([]);
    }

    // A page once returned never changes but for its next link: the final chain starts with the
    // very pages read while the export ran, and lists every file they listed.
    const byUrl = new Map(final.map((page) => [page.url, page.manifest.output]));
    for (const page of seen) expect(byUrl.get(page.url)).toEqual(page.manifest.output);
    expect(new Set([...urlsOf(seen), ...finalUrls])).toEqual(new Set(finalUrls));

    // Every resource exactly once, each file as its count says, and each early file byte-identical.
    const resources: Array<Record<string, unknown>> = [];
    for (const page of final) {
      for (const entry of page.manifest.output) {
        const text = await client.download(entry.url);
        const lines = text.split('\n').filter((line) => line.length > 0);
        expect(lines).toHaveLength(entry.count);
        for (const line of lines) {
          const resource = JSON.parse(line) as Record<string, unknown>;
          expect(resource.resourceType).toBe(entry.type);
          resources.push(resource);
        }
        if (earlyBytes.has(entry.url)) expect(text).toBe(earlyBytes.get(entry.url));
      }
    }
    expect(keys(resources)).toEqual(keys(seededResources()));

    // Without the parameter the completed manifest is one page, as ever.
    const plainDone = await client.waitForManifest(plainPollUrl, { timeoutMs: 60_000 });
    expect((plainDone as unknown as ManifestPage).link).toBeUndefined();
    expect(plainDone.output.length).toBeGreaterThan(PAGE_FILES);
    expectOperationOutcome(await request(`${plainPollUrl}/manifest/2`), 404);
  });

  it('accepts allowPartialManifests as valueBoolean in a POST Parameters body, and refuses a value that is not a boolean (400)', async () => {
    const posted = await kickoff(target.base, '$export', {
      body: {
        resourceType: 'Parameters',
        parameter: [
          { name: '_type', valueString: 'Patient' },
          { name: 'allowPartialManifests', valueBoolean: true },
        ],
      },
      headers: { 'Cache-Control': 'no-cache' },
    });
    expect(posted.status).toBe(202);
    const pollUrl = posted.headers.get('content-location') as string;
    const done = await eventually('the export to complete', async () => {
      const response = await request(pollUrl);
      return response.status === 200 ? response : undefined;
    });
    const pages = await readChain(pollUrl, done);
    expect(pages.flatMap((p) => p.manifest.output.map((o) => o.type))).toEqual(
      expect.arrayContaining(['Patient']),
    );
    expectOperationOutcome(
      await kickoff(target.base, '$export', { query: 'allowPartialManifests=yes' }),
      400,
    );
  });
});

describe('allowPartialManifests with error files (IG v3.0.0)', () => {
  let source: GatedFhirSource;
  let target: ConformanceApp;

  beforeAll(async () => {
    source = await startGatedFhirSource(seededResources(), { fastPages: 12 });
    target = await startPagedApp(source);
  });
  afterAll(async () => {
    await target?.app.dispose();
    await source?.close();
  });

  it('lists the error file of kick-off warnings (handling=lenient) once, on a page appended when the export completes; page 1 read while it ran is then byte-identical but for an added next link', async () => {
    const accepted = await kickoff(target.base, '$export', {
      query: 'allowPartialManifests=true&_madeUp=1',
      headers: { 'Cache-Control': 'no-cache', Prefer: 'respond-async, handling=lenient' },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.json?.warnings).toEqual([expect.stringMatching(/_madeUp/)]);
    const pollUrl = accepted.headers.get('content-location') as string;

    await source.waitUntilHeld(2);
    const first = await partialManifest(pollUrl);
    const running = await readChain(pollUrl, first);
    for (const page of running) expect(page.manifest.error).toEqual([]);

    source.open();
    const done = await eventually(
      'the export to complete',
      async () => {
        const response = await request(pollUrl);
        if (response.status === 200) return response;
        expect(response.status).toBe(202);
        return undefined;
      },
      120_000,
      100,
    );
    const final = await readChain(pollUrl, done);

    // Page 1 as first served, its `next` link added (or kept, when it had one while running).
    const early = first.json as unknown as ManifestPage;
    const link = (done.json as unknown as ManifestPage).link;
    expect(link).toHaveLength(1);
    const expected = early.link ? first.text : `${first.text.slice(0, -1)},"link":${JSON.stringify(link)}}`;
    expect(done.text).toBe(expected);
    // Every page read while running, unchanged on the final chain but for an added next link.
    const byUrl = new Map(final.map((page) => [page.url, page.manifest]));
    for (const page of running) {
      const { link: _link, ...rest } = byUrl.get(page.url) ?? ({} as ManifestPage);
      const { link: _seen, ...seen } = page.manifest;
      expect(rest).toEqual(seen);
    }

    // The error file, on a later page and once; every output file once.
    const errors = final.flatMap((page, index) => page.manifest.error.map((e) => ({ index, ...e })));
    expect(errors).toHaveLength(1);
    expect(errors[0].index).toBeGreaterThan(0);
    expect(errors[0].type).toBe('OperationOutcome');
    const outcome = JSON.parse((await target.client.download(errors[0].url)).trim()) as Record<
      string,
      unknown
    >;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(outcome)).toMatch(/_madeUp/);
    const finalUrls = urlsOf(final);
    expect(new Set(finalUrls).size).toBe(finalUrls.length);
    for (const page of final) {
      expect(page.manifest.output.length + page.manifest.error.length).toBeLessThanOrEqual(PAGE_FILES);
    }
  });
});
