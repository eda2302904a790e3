import { SourceError } from '../../../src/export/errors';
import { encodeQuery, searchQuery, type QueryParam } from '../../../src/sources/fhirSearchPlan';
import {
  MAX_RESUME_IDS,
  followPage,
  resumeFrom,
  type SearchPosition,
} from '../../../src/sources/searchResume';
import { parseSearchsetBytes } from '../../../src/sources/searchsetScanner';

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-01T00:01:00.000Z';
const T2 = '2024-01-01T00:02:00.000Z';

function obs(id: string, lastUpdated?: string): Record<string, unknown> {
  return { resourceType: 'Observation', id, ...(lastUpdated ? { meta: { lastUpdated } } : {}) };
}

const ids = (resources: Array<Record<string, unknown>>) => resources.map((r) => r.id);

describe('the query of a search and of its resumption', () => {
  const conditions: QueryParam[] = [['status', 'final']];
  const window = { since: '2023-06-01T00:00:00.1234Z', until: '2025-01-01T00:00:00.000Z' };

  it('sorts every search by _lastUpdated, inside the window, after its conditions', () => {
    expect(encodeQuery(searchQuery(conditions, window, 50))).toBe(
      'status=final&_lastUpdated=ge2023-06-01T00:00:00.1234Z&_lastUpdated=le2025-01-01T00:00:00.000Z' +
        '&_sort=_lastUpdated&_count=50',
    );
  });

  it('without since, has no lower bound; with a range end, an exclusive upper one', () => {
    const query = searchQuery([], { until: window.until, before: T2 }, 10);
    expect(query).toEqual([
      ['_lastUpdated', `le${window.until}`],
      ['_lastUpdated', `lt${T2}`],
      ['_sort', '_lastUpdated'],
      ['_count', '10'],
    ]);
  });

  it('resumes from the instant it stood at, instead of since, keeping every other criterion', () => {
    const resumed = searchQuery(conditions, { ...window, before: T2 }, 50, T1);
    expect(resumed).toEqual([
      ['status', 'final'],
      ['_lastUpdated', `ge${T1}`],
      ['_lastUpdated', `le${window.until}`],
      ['_lastUpdated', `lt${T2}`],
      ['_sort', '_lastUpdated'],
      ['_count', '50'],
    ]);
    // Resumed before anything was returned: the search's own start.
    expect(searchQuery([], { until: window.until }, 5, undefined)[0]).toEqual([
      '_lastUpdated',
      `le${window.until}`,
    ]);
  });
});

describe('following a search', () => {
  it('keeps the last instant and the ids returned at it, across pages', () => {
    const first = followPage('Observation', {}, [obs('a', T0), obs('b', T1), obs('c', T1)]);
    expect(first.position).toEqual({ at: { t: T1, ids: ['b', 'c'] } });
    const second = followPage('Observation', first.position, [obs('d', T1), obs('e', T1)]);
    expect(second.position).toEqual({ at: { t: T1, ids: ['b', 'c', 'd', 'e'] } });
    expect(followPage('Observation', second.position, [obs('f', T2)]).position).toEqual({
      at: { t: T2, ids: ['f'] },
    });
  });

  it('reads meta.lastUpdated of resources kept as their bytes', () => {
    const bundle = parseSearchsetBytes(
      Buffer.from(JSON.stringify({ resourceType: 'Bundle', entry: [{ resource: obs('a', T1) }] })),
    ) as { entry: Array<{ resource: Record<string, unknown> }> };
    expect(followPage('Observation', {}, [bundle.entry[0].resource]).position).toEqual({
      at: { t: T1, ids: ['a'] },
    });
  });

  it(`keeps at most ${MAX_RESUME_IDS} ids of one instant, and says when there were more`, () => {
    const many = Array.from({ length: MAX_RESUME_IDS + 1 }, (_, i) => obs(`id-${i}`, T1));
    const { position } = followPage('Observation', {}, many);
    expect(position.at?.full).toBe(true);
    expect(position.at?.ids).toHaveLength(MAX_RESUME_IDS);
    // A later instant starts afresh.
    expect(followPage('Observation', position, [obs('x', T2)]).position).toEqual({
      at: { t: T2, ids: ['x'] },
    });
  });

  it.each([
    ['unsorted', [obs('a', T1), obs('b', T0)]],
    ['undated', [obs('a', T1), obs('b')]],
    ['undated', [obs('a', 'yesterday')]],
    ['undated', [obs('a', T1), { resourceType: 'Observation', meta: { lastUpdated: T1 } }]],
  ])('marks the search as %s for good when the order cannot be told', (stuck, page) => {
    const { kept, position } = followPage('Observation', {}, page);
    expect(ids(kept)).toEqual(ids(page));
    expect(position).toEqual({ stuck });
    expect(followPage('Observation', position, [obs('c', T2)]).position).toEqual({ stuck });
  });
});

describe('resuming an expired search', () => {
  const stoodAt: SearchPosition = { at: { t: T1, ids: ['b', 'c'] } };

  it('skips what was returned before the search expired, until it passes that instant', () => {
    const resumed = resumeFrom('Observation', stoodAt);
    expect(resumed).toEqual({ ...stoodAt, resuming: true, idle: true });
    // Ties come back in another order: the kept ids decide, not the position.
    const first = followPage('Observation', resumed, [obs('c', T1), obs('d', T1), obs('b', T1)]);
    expect(ids(first.kept)).toEqual(['d']);
    expect(first.position).toEqual({ at: { t: T1, ids: ['b', 'c', 'd'] }, resuming: true });
    const second = followPage('Observation', first.position, [obs('b', T1), obs('e', T2)]);
    expect(ids(second.kept)).toEqual(['e']);
    expect(second.position).toEqual({ at: { t: T2, ids: ['e'] } });
  });

  it('skips a resource before the instant (the source rounds instants), and stays idle while nothing is new', () => {
    const page = followPage('Observation', resumeFrom('Observation', stoodAt), [obs('a', T0), obs('b', T1)]);
    expect(page.kept).toEqual([]);
    expect(page.position).toEqual({ ...stoodAt, resuming: true, idle: true });
  });

  it('fails a resumed search that goes out of order, or loses its place, as it cannot skip exactly', () => {
    const resumed = resumeFrom('Observation', stoodAt);
    expect(() => followPage('Observation', resumed, [obs('d', T2), obs('e', T1)])).toThrow(SourceError);
    expect(() => followPage('Observation', resumed, [obs('d', T1), obs('e')])).toThrow(SourceError);
  });

  it('compares instants written in other forms by their time', () => {
    const page = followPage('Observation', {}, [
      obs('a', '2024-01-01T01:00:00+01:00'),
      obs('b', '2024-01-01T00:00:00.000Z'),
      obs('c', '2024-01-01T00:00:00.0001Z'),
    ]);
    expect(page.position).toEqual({ at: { t: '2024-01-01T00:00:00.0001Z', ids: ['c'] } });
  });

  it.each<[string, SearchPosition, RegExp]>([
    ['its order is unknown', { stuck: 'unsorted' }, /not return it sorted by _lastUpdated/],
    ['a resource had no date', { stuck: 'undated' }, /no valid meta.lastUpdated/],
    ['its cursor is from an earlier version', { stuck: 'untracked' }, /does not record where it stood/],
    ['it expired again before anything new', { ...stoodAt, idle: true }, /expired again/],
    [
      'too many share its instant',
      { at: { t: T1, ids: ['b'], full: true } },
      /more than \d+ of its resources share/,
    ],
  ])('refuses to resume when %s: a non-transient 502', (_, position, reason) => {
    let error: unknown;
    try {
      resumeFrom('Observation', position);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ statusCode: 502, transient: false });
    expect((error as Error).message).toMatch(reason);
  });

  it('resumes a search that expired before returning anything from its start', () => {
    expect(resumeFrom('Observation', {})).toEqual({ resuming: true, idle: true });
  });
});
