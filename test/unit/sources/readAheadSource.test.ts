import { SourceError } from '../../../src/export/errors';
import { ReadAheadSource } from '../../../src/sources/readAheadSource';
import {
  lineText,
  type SearchPage,
  type SearchParameters,
  type SearchSource,
} from '../../../src/sources/searchSource';

/** Pages "0", "1", … of three resources each; token n asks for page n. Released pages are listed. */
function fakeSource(
  pages: number,
  failOnce?: string,
  failure = new SourceError('source is unavailable (503)', 503, true),
) {
  const calls: Array<string | undefined> = [];
  const released: string[] = [];
  let failed = false;
  const source: SearchSource = {
    listResourceTypes: async () => ['Patient'],
    read: async () => undefined,
    checkTypeFilter: () => undefined,
    search: async (_type: string, _params: SearchParameters, token?: string): Promise<SearchPage> => {
      calls.push(token);
      if (failOnce !== undefined && token === failOnce && !failed) {
        failed = true;
        throw failure;
      }
      const n = token === undefined ? 0 : Number(token);
      const page: SearchPage = { resources: [`{"id":"${n}-a"}`, `{"id":"${n}-b"}`, `{"id":"${n}-c"}`] };
      if (n + 1 < pages) page.nextToken = String(n + 1);
      page.release = () => released.push(String(n));
      return page;
    },
  };
  return { source, calls, released };
}

const params: SearchParameters = { until: '2026-01-01T00:00:00Z', typeFilters: [], count: 3 };

describe('ReadAheadSource', () => {
  it('Given a unit paged to the end, When each page is asked for with the saved token, Then each page comes once and in order', async () => {
    const { source, calls } = fakeSource(4);
    const ahead = new ReadAheadSource(source);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await ahead.search('Patient', params, token);
      seen.push(...page.resources.map(lineText));
      token = page.nextToken;
    } while (token !== undefined);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    expect(calls).toEqual([undefined, '1', '2', '3']);
    expect(ahead.hits).toBe(3);
  });

  it('Given a page read ahead, When peeked at before and after it is in, Then it is there only once in, and the search hands out that very page', async () => {
    const { source } = fakeSource(3);
    const ahead = new ReadAheadSource(source);
    const first = await ahead.search('Patient', params);
    const token = first.nextToken as string;
    expect(ahead.peek('Patient', params, token)).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    const peeked = ahead.peek('Patient', params, token);
    expect(peeked?.resources[0]).toBe('{"id":"1-a"}');
    expect(ahead.peek('Patient', params, '2')).toBeUndefined();
    expect(ahead.peek('Patient', { ...params, count: 4 }, token)).toBeUndefined();
    expect(await ahead.search('Patient', params, token)).toBe(peeked);
    expect(ahead.peek('Patient', params, token)).toBeUndefined();
  });

  it('Given a first page prefetched, When the search for it comes, Then it is served from the read-ahead, not searched again', async () => {
    const { source, calls } = fakeSource(2);
    const ahead = new ReadAheadSource(source);
    ahead.prefetch('Patient', params);
    ahead.prefetch('Patient', params);
    const first = await ahead.search('Patient', params);
    expect(first.resources[0]).toBe('{"id":"0-a"}');
    expect(calls).toEqual([undefined, '1']);
    expect(ahead.hits).toBe(1);
    // Other parameters are another search.
    await ahead.search('Patient', { ...params, since: '2025-01-01T00:00:00Z' });
    expect(ahead.misses).toBe(1);
  });

  it('Given a read-ahead that failed, When its page is asked for, Then the page is searched again and the result stands', async () => {
    const { source, calls } = fakeSource(3, '1');
    const ahead = new ReadAheadSource(source);
    const first = await ahead.search('Patient', params);
    const second = await ahead.search('Patient', params, first.nextToken);
    expect(second.resources[0]).toBe('{"id":"1-a"}');
    expect(calls.filter((t) => t === '1')).toHaveLength(2);
  });

  it('Given a read-ahead the source throttled (429, Retry-After 30 s), When its page is asked for within the wait, Then the search fails with the wait that is left and the source is not asked again', async () => {
    const throttled = new SourceError('source is throttling requests (429)', 503, true, 30);
    const { source, calls } = fakeSource(3, '1', throttled);
    let now = 1_000_000;
    const ahead = new ReadAheadSource(source, { now: () => now });
    const first = await ahead.search('Patient', params);
    await new Promise((resolve) => setImmediate(resolve));
    now += 12_000;
    const error = await ahead.search('Patient', params, first.nextToken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ transient: true, statusCode: 503, retryAfterSeconds: 18 });
    expect(calls).toEqual([undefined, '1']);
    // Once the wait is over (the orchestrator's timer), the page is searched.
    now += 18_000;
    const second = await ahead.search('Patient', params, first.nextToken);
    expect(second.resources[0]).toBe('{"id":"1-a"}');
    expect(calls).toEqual([undefined, '1', '1', '2']);
  });

  it('Given a read-ahead the source throttled, When its page is asked for after the wait is over, Then the page is searched at once', async () => {
    const throttled = new SourceError('source is throttling requests (429)', 503, true, 5);
    const { source, calls } = fakeSource(3, '1', throttled);
    let now = 1_000_000;
    const ahead = new ReadAheadSource(source, { now: () => now });
    const first = await ahead.search('Patient', params);
    await new Promise((resolve) => setImmediate(resolve));
    now += 5_000;
    const second = await ahead.search('Patient', params, first.nextToken);
    expect(second.resources[0]).toBe('{"id":"1-a"}');
    expect(calls.slice(0, 3)).toEqual([undefined, '1', '1']);
  });

  it('Given other parameters, When the same token is asked for, Then the read-ahead is not used', async () => {
    const { source, calls } = fakeSource(3);
    const ahead = new ReadAheadSource(source);
    const first = await ahead.search('Patient', params);
    await ahead.search('Patient', { ...params, since: '2025-01-01T00:00:00Z' }, first.nextToken);
    expect(ahead.hits).toBe(0);
    expect(calls.filter((t) => t === '1').length).toBeGreaterThanOrEqual(2);
  });

  it('Given another range of the same type, When the same token is asked for, Then the read-ahead is not used', async () => {
    const { source } = fakeSource(3);
    const ahead = new ReadAheadSource(source);
    const first = await ahead.search('Patient', { ...params, before: '2025-06-01T00:00:00Z' });
    await ahead.search('Patient', { ...params, before: '2025-07-01T00:00:00Z' }, first.nextToken);
    expect(ahead.hits).toBe(0);
  });

  it('Given read-aheads nobody takes, When they are pushed out or expire, Then their pages are released; a page handed out is not', async () => {
    const { source, released } = fakeSource(10);
    const ahead = new ReadAheadSource(source, { maxEntries: 1, ttlMs: 30 });
    const first = await ahead.search('Patient', params); // reads page 1 ahead
    await ahead.search('Patient', { ...params, since: '2025-01-01T00:00:00Z' }); // pushes page 1 out
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(released).toEqual(['1']);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the other unit's page 1 expires
    expect(released).toEqual(['1', '1']);
    // A page that is taken belongs to the taker: only the taker releases it.
    const second = await ahead.search('Patient', params, first.nextToken);
    expect(second.resources[0]).toBe('{"id":"1-a"}');
    expect(released).toEqual(['1', '1']);
  });

  it('Given a source that can describe its data, When asked through the read-ahead, Then the answer is passed on; without one, nothing is known', async () => {
    const { source } = fakeSource(1);
    expect(await new ReadAheadSource(source).describe('Patient', params)).toEqual({});
    const describing = { ...source, describe: async () => ({ total: 7 }) };
    expect(await new ReadAheadSource(describing).describe('Patient', params, 5)).toEqual({ total: 7 });
  });
});
