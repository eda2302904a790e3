import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { BadRequestError } from '../../../src/export/errors';
import { outcomeText } from '../../../src/sources/responseText';
import { FhirRestSource, type FhirRestSourceDeps } from '../../../src/sources/fhirRestSource';
import { ReadAheadSource } from '../../../src/sources/readAheadSource';
import type { FhirSourceConfig } from '../../../src/sources/fhirSourceConfig';
import { lineText, type SearchParameters } from '../../../src/sources/searchSource';
import { planRanges } from '../../../src/export/rangePlan';
import { FaultProxy, openableGate, startFaultProxy } from '../../support/faultProxy';
import { FhirTestServer, startFhirTestServer } from '../../support/fhirTestServer';
import { sourceErrorOf } from '../../support/sourceErrors';
import { startTokenEndpoint } from '../../support/tokenEndpoint';

const UNTIL = '2030-01-01T00:00:00.000Z';
const OBSERVATIONS = 300;
const PATIENTS = 20;
const START = Date.parse('2024-01-01T00:00:00.000Z');

function minute(i: number): string {
  return new Date(START + i * 60_000).toISOString();
}

interface ObsFacts {
  id: string;
  index: number;
  subject: string;
  performer?: string;
  final: boolean;
  code: string;
}

const observationFacts: ObsFacts[] = Array.from({ length: OBSERVATIONS }, (_, i) => ({
  id: `obs-${i}`,
  index: i,
  subject: `Patient/pat-${i % PATIENTS}`,
  performer: i % 10 === 0 ? `Patient/pat-${(i + 3) % PATIENTS}` : undefined,
  final: i % 3 === 0,
  code: `c${i % 4}`,
}));

function seedData(): Record<string, unknown>[] {
  const patients = Array.from({ length: PATIENTS }, (_, i) => ({
    resourceType: 'Patient',
    id: `pat-${i}`,
    name: [{ family: `Family${i}` }],
    meta: { lastUpdated: minute(0) },
  }));
  const observations = observationFacts.map((o) => ({
    resourceType: 'Observation',
    id: o.id,
    status: o.final ? 'final' : 'preliminary',
    code: { coding: [{ system: 'http://example.org/codes', code: o.code }] },
    subject: { reference: o.subject },
    ...(o.performer ? { performer: [{ reference: o.performer }] } : {}),
    meta: { lastUpdated: minute(o.index) },
  }));
  return [...patients, ...observations];
}

function params(overrides: Partial<SearchParameters> = {}): SearchParameters {
  return { until: UNTIL, typeFilters: [], count: 25, ...overrides };
}

/** Pages through a unit, returning every resource id in order and the number of pages. */
async function collect(
  source: FhirRestSource,
  type: string,
  search: SearchParameters,
): Promise<{ ids: string[]; pages: number; total?: number }> {
  const ids: string[] = [];
  let token: string | undefined;
  let pages = 0;
  let total: number | undefined;
  do {
    const page = await source.search(type, search, token);
    if (pages === 0) total = page.total;
    pages += 1;
    for (const line of page.resources) ids.push((JSON.parse(lineText(line)) as { id: string }).id);
    token = page.nextToken;
    if (pages > 500) throw new Error('runaway paging');
  } while (token !== undefined);
  return { ids, pages, total };
}

function source(
  baseUrl: string,
  config: Partial<FhirSourceConfig> = {},
  deps: FhirRestSourceDeps = {},
): FhirRestSource {
  return new FhirRestSource({ baseUrl, ...config }, deps);
}

describe('FhirRestSource against a Medplum FHIR server', () => {
  let offsetServer: FhirTestServer;
  let cursorServer: FhirTestServer;

  beforeAll(async () => {
    offsetServer = await startFhirTestServer({ linkStyle: 'offset' });
    cursorServer = await startFhirTestServer({ linkStyle: 'cursor' });
    await offsetServer.seed(seedData());
    await cursorServer.seed(seedData());
  });

  afterAll(async () => {
    await offsetServer?.close();
    await cursorServer?.close();
  });

  describe('Given a type split into _lastUpdated ranges', () => {
    it('When described, Then it reports the total and the first and last update', async () => {
      const description = await source(offsetServer.baseUrl).describe('Observation', params(), 0);
      expect(description).toEqual({
        total: OBSERVATIONS,
        earliest: minute(0),
        latest: minute(OBSERVATIONS - 1),
      });
    });

    it('When described below the span threshold, or with OR-ed filters, Then it reports no span', async () => {
      const src = source(offsetServer.baseUrl);
      expect(await src.describe('Observation', params(), OBSERVATIONS)).toEqual({ total: OBSERVATIONS });
      expect(
        await src.describe('Observation', params({ typeFilters: ['status=final', 'code=c1'] }), 0),
      ).toEqual({});
    });

    it('When an exclusive upper bound is given, Then a resource updated exactly at it is left out', async () => {
      const { ids, total } = await collect(
        source(offsetServer.baseUrl),
        'Observation',
        params({ since: minute(100), before: minute(150), count: 20 }),
      );
      const expected = observationFacts.filter((o) => o.index >= 100 && o.index < 150).map((o) => o.id);
      expect([...ids].sort()).toEqual([...expected].sort());
      expect(total).toBe(50);
    });

    it.each(['offset', 'cursor'] as const)(
      'When every planned range is paged with %s links, Then each resource comes exactly once',
      async (style) => {
        const server = style === 'offset' ? offsetServer : cursorServer;
        const src = source(server.baseUrl);
        const description = await src.describe('Observation', params(), 100);
        const ranges = planRanges(description, UNTIL, { threshold: 100, maxRanges: 4 });
        expect(ranges).toHaveLength(3);
        const ids: string[] = [];
        for (const range of ranges) {
          const page = await collect(
            src,
            'Observation',
            params({ since: range.start, before: range.end, count: 40 }),
          );
          ids.push(...page.ids);
        }
        expect(ids).toHaveLength(OBSERVATIONS);
        expect(new Set(ids).size).toBe(OBSERVATIONS);
      },
    );
  });

  describe('Given a type with a few hundred resources', () => {
    it.each(['offset', 'cursor'] as const)(
      'When paged with %s links, Then each resource comes once',
      async (style) => {
        const server = style === 'offset' ? offsetServer : cursorServer;
        const { ids, pages, total } = await collect(
          source(server.baseUrl),
          'Observation',
          params({ count: 25 }),
        );
        expect(ids).toHaveLength(OBSERVATIONS);
        expect(new Set(ids).size).toBe(OBSERVATIONS);
        expect(pages).toBe(12);
        expect(total).toBe(OBSERVATIONS);
      },
    );

    it('When each page is released before the next, Then pages reuse one memory and each still holds its own resources', async () => {
      const src = source(cursorServer.baseUrl);
      const first = await src.search('Observation', params({ count: 100 }));
      const firstIds = first.resources.map((line) => (JSON.parse(lineText(line)) as { id: string }).id);
      const firstMemory = first.ndjson?.bytes.buffer;
      expect(firstMemory).toBeDefined();
      first.release?.();
      const second = await src.search('Observation', params({ count: 100 }), first.nextToken);
      expect(second.ndjson?.bytes.buffer).toBe(firstMemory);
      const secondIds = second.resources.map((line) => (JSON.parse(lineText(line)) as { id: string }).id);
      expect(secondIds).toHaveLength(100);
      expect(secondIds.filter((id) => firstIds.includes(id))).toEqual([]);
      // The block written for the page is exactly its resources, one per line.
      expect(second.ndjson?.bytes.toString('utf8')).toBe(
        second.resources.map((line) => `${lineText(line)}\n`).join(''),
      );
    });

    it('When a page is kept unreleased, Then later pages get other memory and its bytes stay as they were', async () => {
      const src = source(cursorServer.baseUrl);
      const first = await src.search('Observation', params({ count: 100 }));
      const before = first.ndjson?.bytes.toString('utf8');
      let token = first.nextToken;
      for (let i = 0; i < 2 && token !== undefined; i++) {
        const page = await src.search('Observation', params({ count: 100 }), token);
        expect(page.ndjson?.bytes.buffer).not.toBe(first.ndjson?.bytes.buffer);
        page.release?.();
        token = page.nextToken;
      }
      expect(first.ndjson?.bytes.toString('utf8')).toBe(before);
    });

    it('When a since/until window is given, Then only resources updated inside it are returned', async () => {
      const { ids } = await collect(
        source(offsetServer.baseUrl),
        'Observation',
        params({ since: minute(100), until: minute(199), count: 30 }),
      );
      const expected = observationFacts.filter((o) => o.index >= 100 && o.index <= 199).map((o) => o.id);
      expect(ids.sort()).toEqual(expected.sort());
    });

    it('When the since instant has a time-zone offset, Then it is sent encoded and honoured', async () => {
      const since = '2024-01-01T03:20:00+01:00'; // minute 140 in UTC
      const { ids } = await collect(
        source(offsetServer.baseUrl),
        'Observation',
        params({ since, count: 100 }),
      );
      expect(ids).toHaveLength(OBSERVATIONS - 140);
    });
  });

  describe('Given several _typeFilter queries', () => {
    it.each(['offset', 'cursor'] as const)(
      'When they overlap (%s links), Then the union is returned without duplicates',
      async (style) => {
        const server = style === 'offset' ? offsetServer : cursorServer;
        const typeFilters = [
          'status=final',
          'code=http://example.org/codes|c0',
          'Observation?code=http://example.org/codes|c1,http://example.org/codes|c0',
        ];
        const { ids } = await collect(
          source(server.baseUrl),
          'Observation',
          params({ typeFilters, count: 20 }),
        );
        const expected = observationFacts
          .filter((o) => o.final || o.code === 'c0' || o.code === 'c1')
          .map((o) => o.id);
        expect(ids).toHaveLength(expected.length);
        expect(new Set(ids)).toEqual(new Set(expected));
      },
    );

    it('When a filter uses _include, Then BadRequestError and no request is sent', async () => {
      const before = offsetServer.requests.length;
      for (const bad of [
        '_include=Observation:subject',
        'status=final&_revinclude=Provenance:target',
        '_sort=date',
        '_count=5',
        '_elements=id',
        '_summary=true',
      ]) {
        await expect(
          source(offsetServer.baseUrl).search('Observation', params({ typeFilters: ['status=final', bad] })),
        ).rejects.toBeInstanceOf(BadRequestError);
      }
      expect(offsetServer.requests.length).toBe(before);
    });
  });

  describe('Given a patient compartment', () => {
    const patients = [
      'Patient/pat-1',
      'Patient/pat-2',
      'Patient/pat-4',
      'Patient/pat-7',
      'Patient/pat-13',
      'Patient/pat-10',
    ];

    it('When refs are batched, Then every resource linked by subject or performer comes once', async () => {
      const src = source(offsetServer.baseUrl, { compartmentBatchSize: 2 });
      const { ids } = await collect(src, 'Observation', params({ patients, count: 7 }));
      const set = new Set(patients);
      const expected = observationFacts
        .filter((o) => set.has(o.subject) || (o.performer !== undefined && set.has(o.performer)))
        .map((o) => o.id);
      expect(
        expected.some((id) => {
          const o = observationFacts.find((f) => f.id === id)!;
          return o.performer !== undefined && set.has(o.performer) && set.has(o.subject);
        }),
      ).toBe(true);
      expect(ids).toHaveLength(expected.length);
      expect(new Set(ids)).toEqual(new Set(expected));
    });

    it('When combined with a type filter, Then the intersection is returned once', async () => {
      const src = source(cursorServer.baseUrl, { compartmentBatchSize: 3 });
      const { ids } = await collect(
        src,
        'Observation',
        params({ patients, typeFilters: ['status=final', 'code=http://example.org/codes|c0'], count: 10 }),
      );
      const set = new Set(patients);
      const expected = observationFacts
        .filter((o) => set.has(o.subject) || (o.performer !== undefined && set.has(o.performer)))
        .filter((o) => o.final || o.code === 'c0')
        .map((o) => o.id);
      expect(ids).toHaveLength(expected.length);
      expect(new Set(ids)).toEqual(new Set(expected));
    });

    it('When the type is Patient, Then the patients are selected by _id', async () => {
      const { ids } = await collect(
        source(offsetServer.baseUrl, { compartmentBatchSize: 2 }),
        'Patient',
        params({ patients }),
      );
      expect(ids.sort()).toEqual(patients.map((p) => p.slice('Patient/'.length)).sort());
    });

    it('When the type is outside the compartment, Then the page is empty without a request', async () => {
      const before = offsetServer.requests.length;
      const page = await source(offsetServer.baseUrl).search('Medication', params({ patients }));
      expect(page).toEqual({ resources: [], total: 0 });
      expect(offsetServer.requests.length).toBe(before);
    });
  });

  describe('Given next links that leave the source', () => {
    let evil: http.Server;
    let evilHits = 0;
    let rogue: http.Server;
    let rogueBase = '';
    let evilBase = '';
    const rogueUrls: string[] = [];

    beforeAll(async () => {
      evil = http.createServer((_req, res) => {
        evilHits += 1;
        res.end('{}');
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      evilBase = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/fhir`;
      rogue = http.createServer((req, res) => {
        rogueUrls.push(req.url ?? '');
        const next = req.url?.includes('path=1')
          ? `${rogueBase.replace('/fhir', '/other')}/Observation?p=2`
          : `${evilBase}/Observation?page=2`;
        res.writeHead(200, { 'content-type': 'application/fhir+json' });
        res.end(
          JSON.stringify({
            resourceType: 'Bundle',
            type: 'searchset',
            entry: [],
            link: [{ relation: 'next', url: next }],
          }),
        );
      });
      await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', r));
      rogueBase = `http://127.0.0.1:${(rogue.address() as AddressInfo).port}/fhir`;
    });

    afterAll(async () => {
      evil.closeAllConnections();
      rogue.closeAllConnections();
      await new Promise((r) => evil.close(r));
      await new Promise((r) => rogue.close(r));
    });

    it('When the next link has another origin, Then a non-transient 502 and nothing is sent there', async () => {
      const error = await sourceErrorOf(source(rogueBase).search('Observation', params()));
      expect(error.statusCode).toBe(502);
      expect(error.transient).toBe(false);
      expect(error.message).toMatch(/outside its base URL/);
      expect(evilHits).toBe(0);
    });

    it('When the next link leaves the base path, Then it is refused too', async () => {
      const error = await sourceErrorOf(
        source(rogueBase).search('Observation', params({ typeFilters: ['path=1'] })),
      );
      // The rogue server was asked with `path=1`, so it answered with a same-origin link to /other.
      expect(rogueUrls.some((url) => url.includes('path=1'))).toBe(true);
      expect(error).toMatchObject({ transient: false, statusCode: 502 });
      expect(error.message).toMatch(/outside its base URL/);
      expect(evilHits).toBe(0);
    });

    it('When a continuation token points elsewhere, Then it is refused before any request', async () => {
      const token = JSON.stringify({ v: 1, q: 0, next: `${evilBase}/Observation?page=3` });
      await sourceErrorOf(source(offsetServer.baseUrl).search('Observation', params(), token));
      expect(evilHits).toBe(0);
    });
  });

  describe('Given a fault proxy in front of the source', () => {
    let proxy: FaultProxy;

    beforeEach(async () => {
      proxy = await startFaultProxy(offsetServer.baseUrl);
    });
    afterEach(async () => {
      await proxy.close();
    });

    it('When paging through the proxy, Then next links are rewritten and all requests go through it', async () => {
      const { ids } = await collect(source(proxy.baseUrl), 'Observation', params({ count: 100 }));
      expect(new Set(ids).size).toBe(OBSERVATIONS);
      expect(proxy.requests.filter((r) => r.url.includes('_offset=')).length).toBe(2);
    });

    it('When the source answers 429 with Retry-After, Then a transient SourceError carries the wait', async () => {
      proxy.addRule({ times: 1, action: { kind: 'status', status: 429, retryAfter: '7' } });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
      expect(error).toMatchObject({ transient: true, retryAfterSeconds: 7 });
      expect(proxy.requests).toHaveLength(1);
    });

    it('When a page read ahead is answered 429 with Retry-After, Then the page step is given the wait and the page is not asked for again before it is over', async () => {
      proxy.addRule({
        match: (r) => r.url.includes('_offset=100'),
        times: 1,
        action: { kind: 'status', status: 429, retryAfter: '20' },
      });
      let now = 5_000_000;
      const ahead = new ReadAheadSource(source(proxy.baseUrl), { now: () => now });
      const first = await ahead.search('Observation', params({ count: 100 }));
      const error = await sourceErrorOf(ahead.search('Observation', params({ count: 100 }), first.nextToken));
      expect(error).toMatchObject({ transient: true, retryAfterSeconds: 20 });
      const asked = () => proxy.requests.filter((r) => r.url.includes('_offset=100')).map((r) => r.action);
      expect(asked()).toEqual(['status']);
      now += 20_000;
      const second = await ahead.search('Observation', params({ count: 100 }), first.nextToken);
      expect(second.resources).toHaveLength(100);
      expect(asked()).toEqual(['status', 'pass']);
    });

    it('When the since instant is finer than milliseconds, Then it is sent with every digit', async () => {
      await source(proxy.baseUrl).search('Observation', params({ since: '2024-01-01T00:00:00.1234Z' }));
      const query = new URL(proxy.requests[0].url, 'http://x').searchParams.getAll('_lastUpdated');
      expect(query).toContain('ge2024-01-01T00:00:00.1234Z');
    });

    it('When the source answers 503 with an HTTP-date Retry-After, Then transient with the seconds until then', async () => {
      // The source's clock stands still: the wait is measured from it, however long the request took.
      const now = Date.parse('2024-05-01T12:00:00Z');
      const at = new Date(now + 30_000).toUTCString();
      proxy.addRule({ times: 1, action: { kind: 'status', status: 503, retryAfter: at } });
      const error = await sourceErrorOf(
        source(proxy.baseUrl, {}, { now: () => now }).search('Observation', params()),
      );
      expect(error.transient).toBe(true);
      expect(error.statusCode).toBe(503);
      expect(error.retryAfterSeconds).toBe(30);
    });

    it('When the source answers 500, Then transient 503 without a wait', async () => {
      proxy.addRule({ times: 1, action: { kind: 'status', status: 500 } });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
      expect(error).toMatchObject({ transient: true, statusCode: 503, retryAfterSeconds: undefined });
    });

    it('When the source does not answer within the timeout, Then transient, without waiting for the answer', async () => {
      // The proxy holds the search until the test lets it go: only the source's deadline can end it.
      const gate = openableGate();
      proxy.addRule({ times: 1, action: { kind: 'hold', until: gate.opened } });
      const error = await sourceErrorOf(
        source(proxy.baseUrl, { timeoutMs: 300 }).search('Observation', params()),
      );
      expect(error.transient).toBe(true);
      expect(error.message).toMatch(/did not answer within 300 ms/);
      expect(proxy.requests).toHaveLength(1);
      expect(proxy.requests[0].answered).toBe(false);
      gate.open();
    });

    it('When the connection breaks mid-body, Then transient', async () => {
      proxy.addRule({ times: 1, action: { kind: 'destroy' } });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params({ count: 100 })));
      expect(error).toMatchObject({ transient: true, statusCode: 503 });
    });

    it('When the connection is refused, Then transient', async () => {
      const base = proxy.baseUrl;
      await proxy.close();
      const error = await sourceErrorOf(source(base).search('Observation', params()));
      expect(error.transient).toBe(true);
      proxy = await startFaultProxy(offsetServer.baseUrl);
    });

    it('When the body is not JSON, Then a transient 502 (a retry may get a whole body)', async () => {
      proxy.addRule({ times: 1, action: { kind: 'malformed' } });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
      expect(error).toMatchObject({ transient: true, statusCode: 502 });
      expect(error.message).toMatch(/malformed/);
    });

    it('When the body is JSON but not a Bundle, Then a non-transient 502', async () => {
      proxy.addRule({
        times: 1,
        action: { kind: 'status', status: 200, body: { resourceType: 'Patient', id: 'x' } },
      });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
      expect(error).toMatchObject({ transient: false, statusCode: 502 });
      expect(error.message).toMatch(/malformed Bundle/);
    });

    it.each([401, 403, 400])(
      'When the source answers %i, Then non-transient with its status and reason',
      async (status) => {
        proxy.addRule({
          times: 1,
          action: {
            kind: 'status',
            status,
            body: {
              resourceType: 'OperationOutcome',
              issue: [
                {
                  severity: 'error',
                  code: 'forbidden',
                  diagnostics: `reason ${status}`,
                  details: { text: 'ignored' },
                },
              ],
            },
          },
        });
        const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
        expect(error).toMatchObject({ transient: false, statusCode: status });
        expect(error.message).toContain(`reason ${status}`);
      },
    );

    it('When the real source rejects the query, Then its OperationOutcome text is the message', async () => {
      const error = await sourceErrorOf(
        source(proxy.baseUrl).search('Observation', params({ since: 'not-a-date' })),
      );
      expect(error).toMatchObject({ transient: false, statusCode: 400 });
      expect(error.message.length).toBeLessThan(400);
      // The message carries the server's own OperationOutcome text, not just the HTTP status text.
      const direct = await fetch(`${offsetServer.baseUrl}/Observation?_lastUpdated=genot-a-date`);
      const text = outcomeText(await direct.json());
      expect(text).toBeTruthy();
      expect(error.message).toContain(text);
    });

    it('When the page is over the byte budget, Then it is fetched again smaller and still complete', async () => {
      const src = source(proxy.baseUrl, { maxPageBytes: 12_000 });
      const { ids } = await collect(src, 'Observation', params({ count: 100 }));
      expect(new Set(ids).size).toBe(OBSERVATIONS);
      expect(ids).toHaveLength(OBSERVATIONS);
      const counts = proxy.requests.map((r) => Number(new URL(r.url, 'http://x').searchParams.get('_count')));
      expect(counts.slice(0, 3)).toEqual([100, 50, 25]);
      expect(Math.max(...counts.slice(4))).toBeLessThanOrEqual(25);
    });

    it('When one resource is over the byte budget, Then a non-transient error says so', async () => {
      const error = await sourceErrorOf(
        source(proxy.baseUrl, { maxPageBytes: 100 }).search('Observation', params({ count: 4 })),
      );
      expect(error.transient).toBe(false);
      expect(error.message).toMatch(/single Observation resource is larger than the page byte budget/);
    });

    it.each([
      [429, '13', 13],
      [503, undefined, undefined],
    ])(
      'When metadata answers %i, Then listing types fails transient (with the wait asked for), never with a guessed list',
      async (status, retryAfter, wait) => {
        proxy.addRule({
          match: (r) => r.url.endsWith('/metadata'),
          times: 1,
          action: { kind: 'status', status, ...(retryAfter ? { retryAfter } : {}) },
        });
        const error = await sourceErrorOf(source(proxy.baseUrl).listResourceTypes());
        expect(error).toMatchObject({ transient: true, statusCode: 503, retryAfterSeconds: wait });
        // Asked again (as the job's retry does), the server's own list comes.
        await expect(source(proxy.baseUrl).listResourceTypes()).resolves.toEqual(['Observation', 'Patient']);
      },
    );

    it.each([
      ['refused', { kind: 'status', status: 404 } as const],
      [
        'not a CapabilityStatement',
        { kind: 'status', status: 200, body: { resourceType: 'Bundle' } } as const,
      ],
      [
        'without a searchable type',
        { kind: 'status', status: 200, body: { resourceType: 'CapabilityStatement', rest: [] } } as const,
      ],
    ])('When metadata is %s, Then listing types fails with a 5xx that says so', async (_what, action) => {
      proxy.addRule({ match: (r) => r.url.endsWith('/metadata'), action });
      const error = await sourceErrorOf(source(proxy.baseUrl).listResourceTypes());
      expect(error.transient).toBe(false);
      expect(error.statusCode).toBeGreaterThanOrEqual(500);
      expect(error.message).toMatch(/CapabilityStatement/);
    });

    it('When the types are configured, Then they are the list and metadata is not asked', async () => {
      await expect(
        source(proxy.baseUrl, { defaultTypes: ['Patient', 'Condition'] }).listResourceTypes(),
      ).resolves.toEqual(['Condition', 'Patient']);
      expect(proxy.requests).toHaveLength(0);
    });

    it('When the supported types are asked again within the cache time, Then metadata is read once, and again after it', async () => {
      let clock = Date.parse('2025-01-01T00:00:00Z');
      const src = source(proxy.baseUrl, { typesCacheSeconds: 60 }, { now: () => clock });
      const metadataReads = () => proxy.requests.filter((r) => r.url.endsWith('/metadata')).length;
      // Through the read-ahead decorator, as the app wires it.
      const wired = new ReadAheadSource(src);
      const both = await Promise.all([wired.supportedTypes?.(), src.supportedTypes()]);
      expect(both).toEqual([
        ['Observation', 'Patient'],
        ['Observation', 'Patient'],
      ]);
      clock += 59_000;
      await expect(src.supportedTypes()).resolves.toEqual(['Observation', 'Patient']);
      expect(metadataReads()).toBe(1);
      clock += 1_000;
      await src.supportedTypes();
      expect(metadataReads()).toBe(2);
    });

    it('When reading the supported types fails, Then the failure is not kept: the next call asks again', async () => {
      proxy.addRule({
        match: (r) => r.url.endsWith('/metadata'),
        times: 1,
        action: { kind: 'status', status: 503 },
      });
      const src = source(proxy.baseUrl, { typesCacheSeconds: 60 });
      expect(await sourceErrorOf(src.supportedTypes())).toMatchObject({ transient: true });
      await expect(src.supportedTypes()).resolves.toEqual(['Observation', 'Patient']);
    });

    it('When the cache time is 0, Then every call reads metadata', async () => {
      const src = source(proxy.baseUrl, { typesCacheSeconds: 0 });
      await src.supportedTypes();
      await src.supportedTypes();
      expect(proxy.requests.filter((r) => r.url.endsWith('/metadata'))).toHaveLength(2);
    });

    it('When the source refuses the count request, Then the page still comes without a total', async () => {
      proxy.addRule({
        match: (r) => r.url.includes('_summary=count'),
        action: { kind: 'status', status: 400 },
      });
      proxy.addRule({
        match: (r) => r.url.includes('Observation?'),
        times: 1,
        action: {
          kind: 'status',
          status: 200,
          body: { resourceType: 'Bundle', type: 'searchset', entry: [] },
        },
      });
      const page = await source(proxy.baseUrl).search('Observation', params());
      expect(page.total).toBeUndefined();
      expect(proxy.requests.some((r) => r.url.includes('_summary=count'))).toBe(true);
    });

    it.each([
      ['_summary=count', 429, '11', 11],
      ['_summary=count', 503, undefined, undefined],
      ['_sort=-_lastUpdated', 429, '5', 5],
    ])(
      'When the planning request with %s answers %i, Then describing fails transient (with the wait asked for) instead of turning splitting off',
      async (part, status, retryAfter, wait) => {
        proxy.addRule({
          match: (r) => r.url.includes(part),
          times: 1,
          action: { kind: 'status', status, ...(retryAfter ? { retryAfter } : {}) },
        });
        const error = await sourceErrorOf(source(proxy.baseUrl).describe('Observation', params(), 0));
        expect(error).toMatchObject({ transient: true, statusCode: 503, retryAfterSeconds: wait });
        // Asked again (as the job's retry does), the description has its total and span.
        const description = await source(proxy.baseUrl).describe('Observation', params(), 0);
        expect(description.total).toBe(OBSERVATIONS);
        expect(description.earliest).toBeDefined();
      },
    );

    it('When the source refuses the planning count, Then the type is described without a total (no split), without an error', async () => {
      proxy.addRule({
        match: (r) => r.url.includes('_summary=count'),
        action: { kind: 'status', status: 400 },
      });
      const description = await source(proxy.baseUrl).describe('Observation', params(), 0);
      expect(description.total).toBeUndefined();
    });

    it('When the count request for a first page is throttled, Then the search fails transient with the wait', async () => {
      proxy.addRule({
        match: (r) => r.url.includes('_summary=count'),
        times: 1,
        action: { kind: 'status', status: 429, retryAfter: '3' },
      });
      proxy.addRule({
        match: (r) => r.url.includes('Observation?'),
        times: 1,
        action: {
          kind: 'status',
          status: 200,
          body: { resourceType: 'Bundle', type: 'searchset', entry: [] },
        },
      });
      const error = await sourceErrorOf(source(proxy.baseUrl).search('Observation', params()));
      expect(error).toMatchObject({ transient: true, retryAfterSeconds: 3 });
    });
  });

  describe('Given the server capabilities and reads', () => {
    it('When listing types, Then the CapabilityStatement types with search-type are returned', async () => {
      await expect(source(offsetServer.baseUrl).listResourceTypes()).resolves.toEqual([
        'Observation',
        'Patient',
      ]);
    });

    it('When reading, Then an existing resource is returned and a missing one is undefined', async () => {
      const src = source(offsetServer.baseUrl);
      await expect(src.read('Patient', 'pat-3')).resolves.toMatchObject({
        resourceType: 'Patient',
        id: 'pat-3',
      });
      await expect(src.read('Patient', 'nobody')).resolves.toBeUndefined();
    });
  });
});

describe('FhirRestSource authentication', () => {
  const clientId = 'export-client';
  const clientSecret = 'export-secret';

  it('Given client credentials, When searching N times, Then one token is issued and refreshed once after a 401', async () => {
    const tokens = await startTokenEndpoint({ clientId, clientSecret });
    const revoked = new Set<string>();
    const server = await startFhirTestServer({
      requiredToken: (t) => tokens.issued.includes(t) && !revoked.has(t),
    });
    try {
      await server.seed([{ resourceType: 'Patient', id: 'a' }]);
      const src = source(server.baseUrl, {
        auth: {
          mode: 'client-credentials',
          tokenUrl: tokens.url,
          clientId,
          clientSecret,
          scope: 'system/*.read',
        },
      });
      for (let i = 0; i < 4; i++) {
        const page = await src.search('Patient', params());
        expect(page.resources).toHaveLength(1);
      }
      expect(tokens.issued).toEqual(['test-token-1']);
      expect(tokens.requests[0]).toMatchObject({ grant_type: 'client_credentials', scope: 'system/*.read' });

      revoked.add('test-token-1');
      const page = await src.search('Patient', params());
      expect(page.resources).toHaveLength(1);
      expect(tokens.issued).toEqual(['test-token-1', 'test-token-2']);
      expect(server.requests.filter((r) => r.authorization === 'Bearer test-token-2').length).toBeGreaterThan(
        0,
      );

      revoked.add('test-token-2');
      revoked.add('test-token-3');
      const error = await sourceErrorOf(src.search('Patient', params()));
      expect(error).toMatchObject({ statusCode: 401, transient: false });
      expect(error.message).not.toMatch(/test-token/);
    } finally {
      await server.close();
      await tokens.close();
    }
  });

  it('Given wrong client credentials, When searching, Then a non-transient 401 without the secret', async () => {
    const tokens = await startTokenEndpoint({ clientId, clientSecret });
    try {
      const src = source('http://127.0.0.1:9/fhir', {
        auth: {
          mode: 'client-credentials',
          tokenUrl: tokens.url,
          clientId,
          clientSecret: 'Wr0ngSecretValue',
        },
      });
      const error = await sourceErrorOf(src.search('Patient', params()));
      expect(error).toMatchObject({ statusCode: 401, transient: false });
      expect(error.message).toMatch(/invalid_client/);
      expect(error.message).not.toContain('Wr0ngSecretValue');
    } finally {
      await tokens.close();
    }
  });

  it('Given a static bearer token, When the server requires it, Then searches pass and a wrong token is 401', async () => {
    const server = await startFhirTestServer({ requiredToken: 'static-secret' });
    try {
      await server.seed([{ resourceType: 'Patient', id: 'a' }]);
      const good = source(server.baseUrl, { auth: { mode: 'bearer', token: 'static-secret' } });
      const page = await good.search('Patient', params());
      expect(page.resources.map((line) => JSON.parse(lineText(line)) as unknown)).toEqual([
        { resourceType: 'Patient', id: 'a', meta: expect.any(Object) as unknown },
      ]);
      const bad = source(server.baseUrl, { auth: { mode: 'bearer', token: 'other' } });
      const error = await sourceErrorOf(bad.search('Patient', params()));
      expect(error).toMatchObject({ statusCode: 401, transient: false });
      expect(error.message).toContain('missing or invalid bearer token');
      expect(server.requests.filter((r) => r.authorization === 'Bearer other')).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('Given managed identity, When searching, Then the credential is asked for {origin}/.default once', async () => {
    const server = await startFhirTestServer({ requiredToken: 'azure-token' });
    try {
      await server.seed([{ resourceType: 'Patient', id: 'a' }]);
      const scopes: (string | string[])[] = [];
      const credential: TokenCredential = {
        getToken: async (scope): Promise<AccessToken> => {
          scopes.push(scope);
          return { token: 'azure-token', expiresOnTimestamp: Date.now() + 3_600_000 };
        },
      };
      const src = new FhirRestSource(
        { baseUrl: server.baseUrl, auth: { mode: 'managed-identity' } },
        { credential },
      );
      await src.search('Patient', params());
      await src.search('Patient', params());
      expect(scopes).toEqual([`${new URL(server.baseUrl).origin}/.default`]);
    } finally {
      await server.close();
    }
  });
});
