import { BadRequestError, SourceError } from '../../../src/export/errors';
import {
  assertLinkWithinBase,
  decodeCursor,
  earlierQueryGroups,
  encodeCursor,
  encodeQuery,
  normalisePatientRefs,
  parseTypeFilter,
  planSearch,
  withCount,
} from '../../../src/sources/fhirSearchPlan';
import {
  PATIENT_COMPARTMENT,
  PATIENT_COMPARTMENT_TYPES,
  isInPatientCompartment,
  patientCompartmentParams,
} from '../../../src/sources/patientCompartment';

describe('continuation token', () => {
  it('round-trips the query index and the next link', () => {
    const cursor = { q: 3, next: 'https://fhir.example.org/r4/Observation?_getpages=abc&_count=10' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor(encodeCursor({ q: 1 }))).toEqual({ q: 1 });
  });

  it('round-trips where the search stands, for resuming it', () => {
    const cursor = {
      q: 0,
      next: 'https://fhir.example.org/r4/Observation?_getpages=abc',
      at: { t: '2024-01-01T00:00:00.123Z', ids: ['a', 'b'] },
      resuming: true as const,
      idle: true as const,
    };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    const full = { q: 0, next: cursor.next, at: { t: cursor.at.t, ids: ['a'], full: true as const } };
    expect(decodeCursor(encodeCursor(full))).toEqual(full);
    const stuck = { q: 2, next: cursor.next, stuck: 'unsorted' as const };
    expect(decodeCursor(encodeCursor(stuck))).toEqual(stuck);
  });

  it('reads a version 1 token (a search neither sorted nor followed) as one that cannot be resumed', () => {
    const next = 'https://fhir.example.org/r4/Observation?_getpages=abc';
    expect(decodeCursor(JSON.stringify({ v: 1, q: 0, next }))).toEqual({ q: 0, next, stuck: 'untracked' });
    expect(decodeCursor(JSON.stringify({ v: 1, q: 2 }))).toEqual({ q: 2 });
  });

  it.each([
    '',
    'not json',
    '{"q":1}',
    '{"v":1,"q":-1}',
    '{"v":1,"q":1.5}',
    '{"v":1,"q":0,"next":5}',
    'null',
    '{"v":2,"q":0,"next":"x","at":{"t":"2024-01-01T00:00:00Z"}}',
    '{"v":2,"q":0,"next":"x","at":{"t":"2024-01-01T00:00:00Z","ids":[1]}}',
    '{"v":2,"q":0,"next":"x","stuck":"lost"}',
    '{"v":2,"q":0,"next":"x","idle":false}',
    '{"v":3,"q":0}',
  ])('rejects %p', (token) => {
    expect(() => decodeCursor(token)).toThrow(/invalid continuation token/);
  });
});

describe('next link origin check', () => {
  const base = 'https://fhir.example.org/r4';

  it.each([
    'https://fhir.example.org/r4/Observation?page=2',
    'https://fhir.example.org/r4',
    'https://fhir.example.org:443/r4/Observation',
    '/r4/Observation?_getpages=x',
  ])('accepts %s', (link) => {
    expect(() => assertLinkWithinBase(link, base)).not.toThrow();
  });

  it.each([
    'http://fhir.example.org/r4/Observation',
    'https://fhir.example.org:8443/r4/Observation',
    'https://evil.example.org/r4/Observation',
    'https://fhir.example.org/r40/Observation',
    'https://fhir.example.org/other/Observation',
    'https://user:pw@fhir.example.org/r4/Observation',
  ])('refuses %s with a non-transient 502', (link) => {
    let caught: unknown;
    try {
      assertLinkWithinBase(link, base);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SourceError);
    expect(caught).toMatchObject({ statusCode: 502, transient: false });
  });

  it('accepts any path on a base at the root', () => {
    expect(() =>
      assertLinkWithinBase('https://fhir.example.org/Observation?x=1', 'https://fhir.example.org/'),
    ).not.toThrow();
  });
});

describe('type filters', () => {
  it('parses with or without the type prefix', () => {
    expect(parseTypeFilter('Observation', 'Observation?status=final&code=http://loinc.org|1234-5')).toEqual([
      ['status', 'final'],
      ['code', 'http://loinc.org|1234-5'],
    ]);
    expect(parseTypeFilter('Observation', 'subject%3APatient=123')).toEqual([['subject:Patient', '123']]);
  });

  it.each([
    '_include=Observation:subject',
    '_revinclude:iterate=Provenance:target',
    '_sort=-date',
    '_count=5',
    '_elements=id',
    '_summary=count',
  ])('rejects %s', (filter) => {
    expect(() => parseTypeFilter('Observation', `status=final&${filter}`)).toThrow(BadRequestError);
  });

  it("rejects another type's filter", () => {
    expect(() => parseTypeFilter('Observation', 'Condition?code=x')).toThrow(BadRequestError);
  });
});

describe('search plan', () => {
  it('has one query without filters or patients', () => {
    expect(planSearch('Patient', { typeFilters: [] })).toMatchObject({
      queries: [{ filter: 0, conditions: [] }],
      overlapping: false,
    });
  });

  it('combines filters with compartment batches, in order', () => {
    const plan = planSearch(
      'Observation',
      {
        typeFilters: ['status=final', 'code=a'],
        patients: ['Patient/1', 'Patient/2', 'Patient/3', 'Patient/2'],
      },
      2,
    );
    expect(plan.queries.map((q) => q.conditions)).toEqual([
      [
        ['status', 'final'],
        ['subject', 'Patient/1,Patient/2'],
      ],
      [
        ['status', 'final'],
        ['subject', 'Patient/3'],
      ],
      [
        ['status', 'final'],
        ['performer', 'Patient/1,Patient/2'],
      ],
      [
        ['status', 'final'],
        ['performer', 'Patient/3'],
      ],
      [
        ['code', 'a'],
        ['subject', 'Patient/1,Patient/2'],
      ],
      [
        ['code', 'a'],
        ['subject', 'Patient/3'],
      ],
      [
        ['code', 'a'],
        ['performer', 'Patient/1,Patient/2'],
      ],
      [
        ['code', 'a'],
        ['performer', 'Patient/3'],
      ],
    ]);
    expect(plan.overlapping).toBe(true);
  });

  it('merges earlier batches of the same filter and parameter into one check', () => {
    const plan = planSearch(
      'Observation',
      { typeFilters: ['status=final', 'code=a'], patients: ['Patient/1', 'Patient/2', 'Patient/3'] },
      2,
    );
    expect(earlierQueryGroups(plan, 0)).toEqual([]);
    expect(earlierQueryGroups(plan, 3)).toEqual([
      [
        ['status', 'final'],
        ['subject', 'Patient/1,Patient/2,Patient/3'],
      ],
      [
        ['status', 'final'],
        ['performer', 'Patient/1,Patient/2'],
      ],
    ]);
    expect(earlierQueryGroups(plan, 5)).toHaveLength(3);
  });

  it('selects Patients by _id in disjoint batches, which never overlap', () => {
    const plan = planSearch(
      'Patient',
      { typeFilters: [], patients: ['Patient/a', 'Patient/b', 'Patient/c'] },
      2,
    );
    expect(plan.queries.map((q) => q.conditions)).toEqual([[['_id', 'a,b']], [['_id', 'c']]]);
    expect(plan.overlapping).toBe(false);
  });

  it('is empty for a type outside the compartment or no patients', () => {
    expect(planSearch('Medication', { typeFilters: [], patients: ['Patient/1'] }).queries).toEqual([]);
    expect(planSearch('Observation', { typeFilters: [], patients: [] }).queries).toEqual([]);
  });

  it('rejects bad references and types', () => {
    expect(() => normalisePatientRefs(['Group/1'])).toThrow(BadRequestError);
    expect(() => normalisePatientRefs(['Patient/a b'])).toThrow(BadRequestError);
    expect(() => planSearch('observation', { typeFilters: [] })).toThrow(BadRequestError);
  });
});

describe('query encoding', () => {
  it('keeps FHIR separators literal and encodes the rest', () => {
    expect(
      encodeQuery([
        ['_lastUpdated', 'ge2024-01-01T00:00:00+01:00'],
        ['code', 'http://x.org|a,b'],
        ['name', 'a b&c'],
      ]),
    ).toBe('_lastUpdated=ge2024-01-01T00:00:00%2B01:00&code=http://x.org|a,b&name=a%20b%26c');
  });

  it('rewrites _count in a next link', () => {
    expect(withCount('https://h/r4/Observation?_count=100&_offset=200&x=a', 50)).toBe(
      'https://h/r4/Observation?_offset=200&x=a&_count=50',
    );
    expect(withCount('https://h/r4/Observation?cursor=abc', 10)).toBe(
      'https://h/r4/Observation?cursor=abc&_count=10',
    );
  });
});

describe('patient compartment table', () => {
  it('links clinical types by the R4 parameters', () => {
    expect(patientCompartmentParams('Observation')).toEqual(['subject', 'performer']);
    expect(patientCompartmentParams('Condition')).toEqual(['patient', 'asserter']);
    expect(patientCompartmentParams('Encounter')).toEqual(['patient']);
    expect(patientCompartmentParams('Coverage')).toEqual([
      'policy-holder',
      'subscriber',
      'beneficiary',
      'payor',
    ]);
    expect(patientCompartmentParams('Patient')).toEqual(['_id']);
  });

  it('excludes types outside the compartment', () => {
    expect(isInPatientCompartment('Medication')).toBe(false);
    expect(isInPatientCompartment('Organization')).toBe(false);
    expect(patientCompartmentParams('Practitioner')).toEqual([]);
  });

  it('lists the 67 R4 compartment types (Patient included), sorted, each with at least one parameter', () => {
    expect(PATIENT_COMPARTMENT_TYPES).toHaveLength(67);
    expect([...PATIENT_COMPARTMENT_TYPES]).toEqual([...PATIENT_COMPARTMENT_TYPES].sort());
    for (const type of PATIENT_COMPARTMENT_TYPES) expect(PATIENT_COMPARTMENT[type].length).toBeGreaterThan(0);
  });
});
