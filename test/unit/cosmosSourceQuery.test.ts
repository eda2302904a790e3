import { BadRequestError } from '../../src/export/errors';
import { buildSearchQuery } from '../../src/sources/cosmosSource';
import { toResourceDocument } from '../../dev/demo/cosmosResourceWriter';

describe('buildSearchQuery', () => {
  test('puts every value in a parameter, never in the SQL text', () => {
    const evil = "x' OR 1=1 --";
    const spec = buildSearchQuery('Observation', {
      until: '2024-01-01T00:00:00Z',
      since: '2023-01-01T00:00:00.5+02:00',
      typeFilters: [`status=${encodeURIComponent(evil)}`, `code=${encodeURIComponent(`http://x|${evil}`)}`],
      patients: ['Patient/pat-zz9'],
      count: 10,
    });
    expect(spec.query).not.toContain(evil);
    expect(spec.query).not.toContain('zz9');
    const values = (spec.parameters ?? []).map((p) => p.value);
    expect(values).toContainEqual([evil]);
    expect(values).toContainEqual({ system: 'http://x', code: evil });
    expect(values).toContain('2024-01-01T00:00:00.000Z');
    expect(values).toContain('2022-12-31T22:00:00.500Z');
    expect(values).toContainEqual(['Patient/pat-zz9']);
  });

  test('bounds a time range with an exclusive upper end, as a canonical instant in a parameter', () => {
    const spec = buildSearchQuery('Observation', {
      until: '2024-01-01T00:00:00Z',
      since: '2023-01-01T00:00:00Z',
      before: '2023-06-01T00:00:00+00:00',
      typeFilters: [],
      count: 10,
    });
    expect(spec.query).toMatch(/c\.meta\.lastUpdated < @p\d+/);
    expect(spec.query).toMatch(/c\.meta\.lastUpdated >= @p\d+/);
    expect((spec.parameters ?? []).map((p) => p.value)).toContain('2023-06-01T00:00:00.000Z');
    expect(() =>
      buildSearchQuery('Observation', {
        until: '2024-01-01T00:00:00Z',
        before: 'later',
        typeFilters: [],
        count: 1,
      }),
    ).toThrow(BadRequestError);
  });

  test('bounds the window exactly when an instant is finer than the stored milliseconds', () => {
    const spec = buildSearchQuery('Observation', {
      since: '2023-01-01T00:00:00.1234Z',
      until: '2024-01-01T00:00:00.9999Z',
      before: '2023-06-01T00:00:00.0001Z',
      typeFilters: [],
      count: 10,
    });
    const values = (spec.parameters ?? []).map((p) => p.value);
    // Stored instants have milliseconds: >= .1234 is >= .124, <= .9999 is <= .999, < .0001 is < .001.
    expect(values).toContain('2023-01-01T00:00:00.124Z');
    expect(values).toContain('2024-01-01T00:00:00.999Z');
    expect(values).toContain('2023-06-01T00:00:00.001Z');
  });

  test('rejects an invalid instant and a non-compartment type', () => {
    expect(() => buildSearchQuery('Patient', { until: 'yesterday', typeFilters: [], count: 1 })).toThrow(
      BadRequestError,
    );
    expect(() =>
      buildSearchQuery('Practitioner', {
        until: '2024-01-01T00:00:00Z',
        typeFilters: [],
        patients: ['Patient/1'],
        count: 1,
      }),
    ).toThrow(BadRequestError);
  });
});

describe('toResourceDocument', () => {
  test('normalises meta.lastUpdated to a UTC instant with milliseconds and keeps the rest', () => {
    const doc = toResourceDocument({
      resourceType: 'Patient',
      id: 'a',
      meta: { lastUpdated: '2024-03-01T12:00:00+01:00', versionId: '2' },
      active: true,
    });
    expect(doc).toEqual({
      resourceType: 'Patient',
      id: 'a',
      meta: { lastUpdated: '2024-03-01T11:00:00.000Z', versionId: '2' },
      active: true,
    });
  });

  test('sets a missing lastUpdated and rejects resources without a type or valid id', () => {
    const now = new Date('2024-05-05T05:05:05.005Z');
    expect(toResourceDocument({ resourceType: 'Patient', id: 'a' }, now).meta?.lastUpdated).toBe(
      now.toISOString(),
    );
    expect(() => toResourceDocument({ resourceType: '', id: 'a' })).toThrow(TypeError);
    expect(() => toResourceDocument({ resourceType: 'Patient', id: 'a/b' })).toThrow(TypeError);
    expect(() =>
      toResourceDocument({ resourceType: 'Patient', id: 'a', meta: { lastUpdated: 'soon' } }),
    ).toThrow(TypeError);
  });
});
