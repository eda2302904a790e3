/**
 * Bulk Data Access IG v2.0.0 kick-off parameters (and `_until` from v3.0.0): what each one does to
 * the exported FILES, checked resource by resource against what the source holds.
 */
import {
  exportedKeys,
  expectOperationOutcome,
  ids,
  kickoff,
  keys,
  lastUpdatedOf,
  parameters,
  runExport,
  seededResources,
  startApp,
  types,
  type ConformanceApp,
} from './conformanceSupport';

const EXTRA = [
  {
    resourceType: 'Organization',
    id: 'org-1',
    meta: { lastUpdated: '2024-06-01T00:00:00.000Z' },
    name: 'Clinic',
  },
];
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

describe('Bulk Data kick-off parameters and their effect on the files (IG v2.0.0, _until v3.0.0)', () => {
  let target: ConformanceApp;
  const seeded = seededResources(EXTRA);
  const ofType = (type: string) => seeded.filter((r) => r.resourceType === type);

  beforeAll(async () => {
    target = await startApp({}, EXTRA);
  });
  afterAll(() => target.app.dispose());

  it.each(['application/fhir+ndjson', 'application/ndjson', 'ndjson'])(
    'SHALL accept _outputFormat=%s and write FHIR NDJSON',
    async (format) => {
      const { resources } = await runExport(target, '$export', {
        query: `_type=Patient&_outputFormat=${encodeURIComponent(format)}`,
      });
      expect(ids(resources, 'Patient')).toEqual(
        keys(ofType('Patient')).map((k) => k.slice('Patient/'.length)),
      );
    },
  );

  it('SHALL support _since: only resources updated at or after it are written', async () => {
    const since = '2025-01-01T00:00:00.000Z';
    const { resources } = await runExport(target, '$export', { query: `_since=${since}` });
    const expected = keys(seeded.filter((r) => lastUpdatedOf(r) >= since));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(seeded.length);
    expect(exportedKeys(resources)).toEqual(expected);
  });

  it('supports _until (v3.0.0): only resources updated at or before it are written', async () => {
    const until = '2024-12-31T23:59:59.999Z';
    const { resources } = await runExport(target, '$export', { query: `_until=${until}` });
    const expected = keys(seeded.filter((r) => lastUpdatedOf(r) <= until));
    expect(expected.length).toBeLessThan(seeded.length);
    expect(exportedKeys(resources)).toEqual(expected);
  });

  it('SHALL support _since and _until together (a window)', async () => {
    const since = '2024-07-01T00:00:00.000Z';
    const until = '2025-06-30T23:59:59.999Z';
    const { resources } = await runExport(target, '$export', { query: `_since=${since}&_until=${until}` });
    expect(exportedKeys(resources)).toEqual(
      keys(seeded.filter((r) => lastUpdatedOf(r) >= since && lastUpdatedOf(r) <= until)),
    );
  });

  it('SHOULD support _type: only the listed types, repeated parameters and comma lists merged', async () => {
    const { resources } = await runExport(target, '$export', {
      query: '_type=Patient&_type=Condition,Immunization',
    });
    expect(types(resources)).toEqual(['Condition', 'Immunization', 'Patient']);
    expect(exportedKeys(resources)).toEqual(
      keys(seeded.filter((r) => ['Patient', 'Condition', 'Immunization'].includes(r.resourceType))),
    );
  });

  it('SHOULD support _type in a POST Parameters body, one parameter per type', async () => {
    const { resources } = await runExport(target, '$export', {
      body: parameters([
        ['_type', 'Patient'],
        ['_type', 'AllergyIntolerance'],
      ]),
    });
    expect(exportedKeys(resources)).toEqual(
      keys(seeded.filter((r) => ['Patient', 'AllergyIntolerance'].includes(r.resourceType))),
    );
  });

  it('SHOULD support _typeFilter: several filters for one type are OR-ed and a resource is written once', async () => {
    const observations = ofType('Observation');
    const amended = observations.filter((o) => o.status === 'amended');
    const final = observations.filter((o) => o.status === 'final');
    expect(amended.length).toBeGreaterThan(0);
    // The _id filter overlaps the status filter on purpose: the overlap must not be written twice.
    const picked = [amended[0], final[0]];
    const { resources } = await runExport(target, '$export', {
      query: [
        '_type=Observation,Patient',
        `_typeFilter=${encodeURIComponent('Observation?status=amended')}`,
        `_typeFilter=${encodeURIComponent(`Observation?_id=${picked.map((o) => o.id).join(',')}`)}`,
      ].join('&'),
    });
    const written = (resources.get('Observation') ?? []).map((o) => String(o.id));
    expect(new Set(written).size).toBe(written.length);
    expect([...written].sort()).toEqual([...new Set([...amended, ...picked].map((o) => o.id))].sort());
    // Types without a filter are exported whole.
    expect(ids(resources, 'Patient')).toHaveLength(ofType('Patient').length);
  });

  it('SHOULD support _typeFilter with a token search (code=system|code)', async () => {
    const first = ofType('Observation')[0] as unknown as {
      code: { coding: Array<{ system: string; code: string }> };
    };
    const { system, code } = first.code.coding[0];
    const { resources } = await runExport(target, '$export', {
      query: `_type=Observation&_typeFilter=${encodeURIComponent(`Observation?code=${system}|${code}`)}`,
    });
    const expected = ofType('Observation').filter((o) =>
      (o as unknown as typeof first).code.coding.some((c) => c.system === system && c.code === code),
    );
    expect(ids(resources, 'Observation')).toEqual(expected.map((o) => o.id).sort());
  });

  it('SHALL, without _type, export every type and narrow only the type a _typeFilter names (v3.0.0 processing model)', async () => {
    const { resources } = await runExport(target, '$export', {
      query: `_typeFilter=${encodeURIComponent('Observation?status=amended')}`,
    });
    const expected = seeded.filter((r) => r.resourceType !== 'Observation' || r.status === 'amended');
    expect(ofType('Observation').length).toBeGreaterThan(ids(resources, 'Observation').length);
    expect(exportedKeys(resources)).toEqual(keys(expected));
  });

  it('SHALL filter each type independently: a filter on Patient leaves the other types whole (v3.0.0)', async () => {
    const patient = ofType('Patient')[0];
    const { resources } = await runExport(target, '$export', {
      query: `_type=Patient,Observation&_typeFilter=${encodeURIComponent(`Patient?_id=${patient.id}`)}`,
    });
    expect(ids(resources, 'Patient')).toEqual([patient.id]);
    // Observations of the patients filtered out are still exported.
    expect(ids(resources, 'Observation')).toEqual(keys(ofType('Observation')).map((k) => k.split('/')[1]));
  });

  it('SHALL leave out a type _type does not list even when a _typeFilter names it: _type first, then the filters (v3.0.0)', async () => {
    const { resources } = await runExport(target, '$export', {
      query: `_type=Patient&_typeFilter=${encodeURIComponent('Observation?status=amended')}`,
    });
    expect(types(resources)).toEqual(['Patient']);
    expect(exportedKeys(resources)).toEqual(keys(ofType('Patient')));
  });

  it('SHALL accept, at the Patient level, a _typeFilter for a type outside the Patient compartment, which has nothing to narrow (v3.0.0)', async () => {
    const { resources } = await runExport(target, 'Patient/$export', {
      query: `_typeFilter=${encodeURIComponent('Organization?name=Clinic')}`,
    });
    expect(types(resources)).not.toContain('Organization');
    expect(ids(resources, 'Patient')).toHaveLength(ofType('Patient').length);
  });

  it.each([
    ['context of all resource types', '?status=final'],
    ['context of a compartment', 'Patient/p1/Observation?status=final'],
    ['a type without a query', 'Observation'],
  ])(
    'SHALL refuse a _typeFilter that is not a search of one resource type (%s): 400 (v3.0.0)',
    async (_context, filter) => {
      expectOperationOutcome(
        await kickoff(target.base, '$export', { query: `_typeFilter=${encodeURIComponent(filter)}` }),
        400,
      );
    },
  );

  it('_elements: root elements kept plus mandatory ones, resources tagged SUBSETTED, other types untouched', async () => {
    const { resources } = await runExport(target, '$export', {
      query: '_type=Patient,Observation,Condition&_elements=Patient.gender,Observation.effectiveDateTime',
    });
    // Every resource is there (so the checks below cannot pass by running zero times).
    expect(ids(resources, 'Patient')).toEqual(
      ofType('Patient')
        .map((p) => p.id)
        .sort(),
    );
    expect(ids(resources, 'Observation')).toEqual(
      ofType('Observation')
        .map((o) => o.id)
        .sort(),
    );
    for (const patient of resources.get('Patient') ?? []) {
      expect(Object.keys(patient).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
      expect((patient.meta as { tag: unknown[] }).tag).toContainEqual(SUBSETTED);
    }
    for (const observation of resources.get('Observation') ?? []) {
      // status and code are mandatory (1..1) in Observation, so they stay.
      expect(Object.keys(observation).sort()).toEqual([
        'code',
        'effectiveDateTime',
        'id',
        'meta',
        'resourceType',
        'status',
      ]);
      expect((observation.meta as { tag: unknown[] }).tag).toContainEqual(SUBSETTED);
    }
    const conditions = resources.get('Condition') ?? [];
    expect(conditions.length).toBe(ofType('Condition').length);
    for (const condition of conditions) {
      expect(condition).toEqual(ofType('Condition').find((c) => c.id === condition.id));
    }
  });

  it('ignores includeAssociatedData and unknown parameters under Prefer: respond-async, handling=lenient', async () => {
    const { resources, manifest } = await runExport(target, '$export', {
      query: '_type=Patient&includeAssociatedData=LatestProvenanceResources&_madeUp=1',
      headers: { Prefer: 'respond-async, handling=lenient' },
    });
    expect(types(resources)).toEqual(['Patient']);
    // What was ignored is reported in the manifest's error file (see statusAndFiles.test.ts).
    expect(manifest.error.map((e) => e.type)).toEqual(['OperationOutcome']);
  });

  it('SHALL export every type the source holds when _type is absent (system level)', async () => {
    const { resources } = await runExport(target, '$export');
    expect(exportedKeys(resources)).toEqual(keys(seeded));
  });
});
