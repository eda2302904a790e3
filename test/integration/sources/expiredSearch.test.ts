/**
 * The FHIR REST source against a server whose searches expire (410 Gone on a next link after a few
 * pages, as HAPI answers once its search cache has dropped a search): each search is resumed from
 * where it stood, and the unit's pages hold every match exactly once.
 */
import { FhirRestSource } from '../../../src/sources/fhirRestSource';
import { lineText, type SearchParameters } from '../../../src/sources/searchSource';
import { startFaultProxy } from '../../support/faultProxy';
import { startFhirTestServer, type FhirTestServer } from '../../support/fhirTestServer';
import { sourceErrorOf } from '../../support/sourceErrors';

const UNTIL = '2030-01-01T00:00:00.000Z';
const START = Date.parse('2024-01-01T00:00:00.000Z');
/** Resources per instant, in turn: groups of one instant straddle the pages and the expiries. */
const GROUP_SIZES = [3, 1, 4, 2, 5];
const OBSERVATIONS = 60;
const PAGE = 3;
/** A search serves 2 pages (6 resources), then its next link answers 410. */
const PAGES_PER_SEARCH = 2;

function instant(i: number): string {
  return new Date(START + i * 60_000).toISOString();
}

/** Observation i's instant: consecutive observations share an instant in groups of GROUP_SIZES. */
function instants(count: number): string[] {
  const out: string[] = [];
  for (let group = 0; out.length < count; group++) {
    for (let k = 0; k < GROUP_SIZES[group % GROUP_SIZES.length] && out.length < count; k++) {
      out.push(instant(group));
    }
  }
  return out;
}

const observations = instants(OBSERVATIONS).map((lastUpdated, i) => ({
  resourceType: 'Observation',
  id: `obs-${i}`,
  status: i % 2 === 0 ? 'final' : 'preliminary',
  code: { coding: [{ system: 'http://example.org/codes', code: `c${i % 3}` }] },
  meta: { lastUpdated },
}));

/** Seeded newest first, so that the server's own (insertion) order is not the `_lastUpdated` order. */
const seeded = [...observations].reverse();

function params(overrides: Partial<SearchParameters> = {}): SearchParameters {
  return { until: UNTIL, typeFilters: [], count: PAGE, ...overrides };
}

async function collect(source: FhirRestSource, search: SearchParameters): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await source.search('Observation', search, token);
    for (const line of page.resources) ids.push((JSON.parse(lineText(line)) as { id: string }).id);
    token = page.nextToken;
    if (++pages > 500) throw new Error('runaway paging');
  } while (token !== undefined);
  return ids;
}

describe('Given a FHIR server whose searches expire after two pages', () => {
  let server: FhirTestServer;
  let source: FhirRestSource;

  beforeAll(async () => {
    server = await startFhirTestServer({ linkStyle: 'cursor', expireSearchesAfterPages: PAGES_PER_SEARCH });
    await server.seed(seeded);
    source = new FhirRestSource({ baseUrl: server.baseUrl });
  });
  afterAll(() => server?.close());

  const resumedSearches = () =>
    server.requests.filter((r) => /_lastUpdated=ge/.test(r.url) && !r.url.includes('_summary')).length;

  it('When a type is paged through, Then each search is resumed where it stood and every resource comes once', async () => {
    const before = resumedSearches();
    const ids = await collect(source, params());
    expect([...ids].sort()).toEqual(observations.map((o) => o.id).sort());
    expect(new Set(ids).size).toBe(ids.length);
    // In `_lastUpdated` order, whatever order the server holds them in.
    const updated = new Map(observations.map((o) => [o.id, o.meta.lastUpdated]));
    const times = ids.map((id) => updated.get(id) as string);
    expect(times).toEqual([...times].sort());
    // 60 resources, 6 a search: the search expired and was resumed many times.
    expect(resumedSearches() - before).toBeGreaterThanOrEqual(OBSERVATIONS / (PAGE * PAGES_PER_SEARCH) - 1);
  });

  it('When the window, the range bound and OR-ed filters apply, Then the resumed searches keep them and every match comes once', async () => {
    const since = instant(3);
    const before = instant(20);
    const search = params({ since, before, typeFilters: ['status=final', 'code=c1'] });
    const ids = await collect(source, search);
    const expected = observations
      .filter((o) => o.meta.lastUpdated >= since && o.meta.lastUpdated < before)
      .filter((o) => o.status === 'final' || o.code.coding[0].code === 'c1')
      .map((o) => o.id);
    expect([...ids].sort()).toEqual(expected.sort());
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('When a page whose search expired is asked for twice (a retried page step), Then both times it holds the same resources', async () => {
    let token: string | undefined;
    for (let i = 0; i < PAGES_PER_SEARCH; i++) {
      token = (await source.search('Observation', params(), token)).nextToken;
    }
    const idsOf = async () =>
      (await source.search('Observation', params(), token)).resources.map(
        (line) => (JSON.parse(lineText(line)) as { id: string }).id,
      );
    const first = await idsOf();
    expect(first.length).toBeGreaterThan(0);
    expect(await idsOf()).toEqual(first);
  });

  it('When a resumed search expires again before returning anything new, Then a non-transient 502 says so', async () => {
    const crowded = await startFhirTestServer({ linkStyle: 'cursor', expireSearchesAfterPages: 2 });
    try {
      // 7 resources at one instant: a search serves 6, its resumption skips those 6 and expires.
      await crowded.seed(
        Array.from({ length: 7 }, (_, i) => ({
          resourceType: 'Observation',
          id: `same-${i}`,
          status: 'final',
          code: { text: 'x' },
          meta: { lastUpdated: instant(0) },
        })),
      );
      const error = await sourceErrorOf(collect(new FhirRestSource({ baseUrl: crowded.baseUrl }), params()));
      expect(error).toMatchObject({ statusCode: 502, transient: false });
      expect(error.message).toMatch(/expired \(410 Gone\) and cannot be resumed exactly: it expired again/);
    } finally {
      await crowded.close();
    }
  });

  it('When the source answers 410 to the first page of a search, Then a non-transient 502', async () => {
    const proxy = await startFaultProxy(server.baseUrl);
    try {
      proxy.addRule({ times: 1, action: { kind: 'status', status: 410 } });
      const error = await sourceErrorOf(
        new FhirRestSource({ baseUrl: proxy.baseUrl }).search('Observation', params()),
      );
      expect(error).toMatchObject({ statusCode: 502, transient: false });
      expect(error.message).toMatch(/410 Gone to a new search of Observation/);
    } finally {
      await proxy.close();
    }
  });
});
