import { BadRequestError } from '../../../src/export/errors';
import { parseKickoff, type KickoffInput } from '../../../src/export/kickoffRequest';

const compartmentTypes = new Set(['Patient', 'Observation', 'Encounter', 'Condition']);
const BASE = 'http://127.0.0.1:7071/api';
const containers = { defaultContainer: 'fhir-export', allowed: ['my-exports', 'export-*', 'azure-*'] };

type Overrides = Partial<Omit<KickoffInput, 'headers'>> & { headers?: Record<string, string> };

function input(query: string, overrides: Overrides = {}): KickoffInput {
  const headers = new Headers({
    accept: 'application/fhir+json',
    prefer: 'respond-async',
    ...(overrides.headers ?? {}),
  });
  return { method: 'GET', level: 'system', url: `${BASE}/$export${query}`, ...overrides, headers };
}

function parse(query: string, overrides: Overrides = {}) {
  return parseKickoff(input(query, overrides), { compartmentTypes, containers });
}

function rejection(query: string, overrides: Overrides = {}): string {
  try {
    parse(query, overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return (error as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

describe('parseKickoff', () => {
  it('given a plain system kick-off, when parsed, then it exports every type in NDJSON', () => {
    const { request, lenient } = parse('');
    expect(request).toMatchObject({
      level: 'system',
      types: [],
      outputFormat: 'application/fhir+ndjson',
      patients: [],
    });
    expect(request.requestUrl).toBe(`${BASE}/$export`);
    expect(lenient).toBe(false);
  });

  it('merges repeated and comma-separated _type values without duplicates', () => {
    const { request } = parse('?_type=Patient,Observation&_type=Observation&_type=Encounter');
    expect(request.types).toEqual(['Patient', 'Observation', 'Encounter']);
  });

  it('accepts the three output format spellings', () => {
    for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      expect(parse(`?_outputFormat=${encodeURIComponent(format)}`).request.outputFormat).toBe(
        'application/fhir+ndjson',
      );
    }
    expect(rejection('?_outputFormat=text/csv')).toMatch(/_outputFormat/);
  });

  it('Given a _since finer than milliseconds, When parsed, Then every digit is kept (in UTC) and windows compare exactly', () => {
    expect(parse('?_since=2023-01-01T00:00:00.1234Z').request.since).toBe('2023-01-01T00:00:00.1234Z');
    expect(parse('?_since=2023-01-01T01:00:00.123456789%2B01:00').request.since).toBe(
      '2023-01-01T00:00:00.123456789Z',
    );
    // Trailing zeros say nothing more: equal instants keep one form (the request hash compares them).
    expect(parse('?_since=2023-01-01T00:00:00.12300Z').request.since).toBe('2023-01-01T00:00:00.123Z');
    expect(rejection('?_since=2023-01-01T00:00:00.1235Z&_until=2023-01-01T00:00:00.1234Z')).toMatch(
      /later than _until/,
    );
  });

  it('normalises _since and _until instants and refuses partial dates or reversed windows', () => {
    const { request } = parse('?_since=2024-01-01T00:00:00%2B01:00&_until=2025-01-01T00:00:00Z');
    expect(request.since).toBe('2023-12-31T23:00:00.000Z');
    expect(request.until).toBe('2025-01-01T00:00:00.000Z');
    expect(rejection('?_since=2024-01-01')).toMatch(/_since must be a FHIR instant/);
    expect(rejection('?_since=yesterday')).toMatch(/_since/);
    expect(rejection('?_since=2024-02-30T00:00:00Z&_until=2024-01-01T00:00:00Z')).toMatch(/_since/);
    expect(rejection('?_since=2025-01-01T00:00:00Z&_until=2024-01-01T00:00:00Z')).toMatch(
      /later than _until/,
    );
  });

  it('requires Prefer: respond-async and Accept: application/fhir+json', () => {
    expect(rejection('', { headers: { prefer: 'return=minimal' } })).toMatch(/respond-async/);
    expect(rejection('', { headers: { accept: 'text/html' } })).toMatch(/Accept/);
  });

  it('rejects unknown types and parameters, and ignores them under handling=lenient', () => {
    expect(rejection('?_type=Spaceship')).toMatch(/Spaceship/);
    expect(rejection('?_foo=bar')).toMatch(/_foo/);
    const lenient = parse('?_type=Patient,Spaceship&_foo=bar', {
      headers: { prefer: 'respond-async, handling=lenient' },
    });
    expect(lenient.request.types).toEqual(['Patient']);
    expect(lenient.warnings).toHaveLength(2);
    expect(lenient.lenient).toBe(true);
  });

  it('parses _typeFilter into per-type queries and refuses result-shaping parameters', () => {
    const { request } = parse(
      '?_type=Observation&_typeFilter=' +
        encodeURIComponent('Observation?status=final,Observation?code=http://loinc.org|1234-5,9999-9'),
    );
    expect(request.typeFilters.Observation).toEqual([
      'status=final',
      'code=http%3A%2F%2Floinc.org%7C1234-5%2C9999-9',
    ]);
    expect(
      rejection('?_typeFilter=' + encodeURIComponent('Observation?_include=Observation:subject')),
    ).toMatch(/_include/);
    expect(rejection('?_typeFilter=' + encodeURIComponent('Observation?_sort=date'))).toMatch(/_sort/);
    // IG v3: `_type` decides the types; a filter for another type has nothing to narrow.
    expect(
      parse('?_type=Patient&_typeFilter=' + encodeURIComponent('Observation?status=final')).request
        .typeFilters,
    ).toEqual({});
    expect(rejection('?_type=Patient&_typeFilter=' + encodeURIComponent('Observation?_sort=date'))).toMatch(
      /_sort/,
    );
    expect(rejection('?_typeFilter=status=final')).toMatch(/Type\?query/);
  });

  it('limits Patient and Group exports to the Patient compartment', () => {
    expect(parse('?_type=Observation', { level: 'patient' }).request.types).toEqual(['Observation']);
    expect(rejection('?_type=Medication', { level: 'patient' })).toMatch(/compartment/);
    expect(parse('', { level: 'group', groupId: 'g-1' }).request.groupId).toBe('g-1');
    expect(rejection('', { level: 'group', groupId: 'bad id!' })).toMatch(/group id/);
  });

  it('reads a POST Parameters body, including patient references', () => {
    const body = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: '_type', valueString: 'Patient,Observation' },
        { name: '_since', valueInstant: '2024-05-01T00:00:00Z' },
        { name: 'patient', valueReference: { reference: 'Patient/p1' } },
        { name: 'patient', valueReference: { reference: 'Patient/p2' } },
      ],
    });
    const { request } = parse('', {
      method: 'POST',
      level: 'patient',
      body,
      headers: { 'content-type': 'application/fhir+json' },
    });
    expect(request.types).toEqual(['Patient', 'Observation']);
    expect(request.since).toBe('2024-05-01T00:00:00.000Z');
    expect(request.patients).toEqual(['Patient/p1', 'Patient/p2']);
  });

  it('refuses bodies that are not Parameters and patient outside POST or at system level', () => {
    const post = { method: 'POST', headers: { 'content-type': 'application/fhir+json' } };
    expect(rejection('', { ...post, body: '{not json' })).toMatch(/JSON/);
    expect(rejection('', { ...post, body: '{"resourceType":"Patient"}' })).toMatch(/Parameters/);
    expect(rejection('?patient=Patient/1', { level: 'patient' })).toMatch(/POST/);
    const patientBody = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [{ name: 'patient', valueReference: { reference: 'Patient/1' } }],
    });
    expect(rejection('', { ...post, body: patientBody })).toMatch(/Patient and Group/);
  });

  it('validates _elements and _container', () => {
    expect(parse('?_elements=id,Observation.status').request.elements).toEqual(['id', 'Observation.status']);
    expect(rejection('?_elements=a b')).toMatch(/_elements/);
    expect(parse('?_container=my-exports').request.container).toBe('my-exports');
    expect(rejection('?_container=Bad_Name')).toMatch(/container/);
  });

  it('given an allow-list, when _container names a container, then only the default and listed ones pass', () => {
    expect(parse('?_container=fhir-export').request.container).toBe('fhir-export');
    expect(parse('?_container=export-2024').request.container).toBe('export-2024');
    for (const name of [
      'azure-webjobs-secrets',
      'azure-webjobs-hosts',
      'app-package',
      'my-exports2',
      'exports',
    ]) {
      expect(rejection(`?_container=${name}`)).toMatch(/not a container this server exports to/);
      // Lenient handling does not turn it into a warning: the client asked to write somewhere else.
      expect(() =>
        parse(`?_container=${name}`, { headers: { prefer: 'respond-async,handling=lenient' } }),
      ).toThrow(BadRequestError);
    }
  });

  it('validates includeAssociatedData', () => {
    expect(rejection('?includeAssociatedData=LatestProvenanceResources')).toMatch(/includeAssociatedData/);
    const lenient = parse('?includeAssociatedData=LatestProvenanceResources', {
      headers: { prefer: 'respond-async,handling=lenient' },
    });
    expect(lenient.warnings.join()).toMatch(/includeAssociatedData/);
  });

  it('sees Cache-Control: no-cache', () => {
    expect(parse('', { headers: { 'cache-control': 'no-cache' } }).noCache).toBe(true);
    expect(parse('').noCache).toBe(false);
  });

  it('clips hostile values echoed in errors', () => {
    const message = rejection(`?_type=${'A'.repeat(500)}`);
    expect(message.length).toBeLessThan(200);
  });
});

describe('parseKickoff: organizeOutputBy (IG v3.0.0)', () => {
  const patientLevel = { level: 'patient' as const };
  const group = { level: 'group' as const, groupId: 'g-1' };

  it('given Patient at the Patient or Group level, then the request is organized by Patient', () => {
    expect(parse('?organizeOutputBy=Patient', patientLevel).request.organizeOutputBy).toBe('Patient');
    expect(parse('?organizeOutputBy=Patient', group).request.organizeOutputBy).toBe('Patient');
  });

  it('given no organizeOutputBy, then the request has none', () => {
    expect(parse('', patientLevel).request).not.toHaveProperty('organizeOutputBy');
  });

  it('given another resource type, or two values, then 400', () => {
    expect(rejection('?organizeOutputBy=Encounter', patientLevel)).toMatch(/Patient only/);
    expect(rejection('?organizeOutputBy=Patient&organizeOutputBy=Patient', patientLevel)).toMatch(
      /only once/,
    );
  });

  it('given the system level, de-identification or allowPartialManifests, then 400', () => {
    expect(rejection('?organizeOutputBy=Patient')).toMatch(/Patient and Group exports only/);
    expect(rejection('?organizeOutputBy=Patient&allowPartialManifests=true', patientLevel)).toMatch(
      /allowPartialManifests/,
    );
    expect(rejection('?organizeOutputBy=Patient&_anonymizationConfig=safe.json', patientLevel)).toMatch(
      /de-identified/,
    );
  });
});
