/**
 * Bulk Data Access IG v2.0.0 export levels: Patient-level (`[base]/Patient/$export`) and Group-level
 * (`[base]/Group/{id}/$export`) exports, Group membership and the POST `patient` parameter.
 */
import {
  exportedKeys,
  keys,
  parameters,
  patientOf,
  runExport,
  seededResources,
  startApp,
  type ConformanceApp,
} from './conformanceSupport';

const lastUpdated = '2024-06-01T00:00:00.000Z';
const EXTRA = [
  // Not in any patient's compartment: a system export has them, Patient and Group exports never do.
  { resourceType: 'Organization', id: 'org-1', meta: { lastUpdated }, name: 'Clinic' },
  {
    resourceType: 'Observation',
    id: 'obs-location',
    meta: { lastUpdated },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
    subject: { reference: 'Location/loc-1' },
  },
  // Membership rules: only pat-000001 is a current member.
  {
    resourceType: 'Group',
    id: 'cohort-mixed',
    meta: { lastUpdated },
    type: 'person',
    actual: true,
    member: [
      { entity: { reference: 'Patient/pat-000001' } },
      { entity: { reference: 'Patient/pat-000002' }, inactive: true },
      { entity: { reference: 'Patient/pat-000003' }, period: { start: '2019-01-01', end: '2020-12-31' } },
      { entity: { reference: 'Patient/pat-000004' }, period: { start: '2199-01-01' } },
    ],
  },
];

describe('Bulk Data export levels: Patient and Group (IG v2.0.0)', () => {
  let target: ConformanceApp;
  const seeded = seededResources(EXTRA);
  const compartmentOf = (patients: string[]) => seeded.filter((r) => patients.includes(patientOf(r) ?? ''));
  const allPatients = seeded.filter((r) => r.resourceType === 'Patient').map((r) => `Patient/${r.id}`);

  beforeAll(async () => {
    target = await startApp({}, EXTRA);
  });
  afterAll(() => target.app.dispose());

  it('SHALL export, at the Patient level, the Patient resources and the resources in their compartments only', async () => {
    const { resources } = await runExport(target, 'Patient/$export');
    expect(exportedKeys(resources)).toEqual(keys(compartmentOf(allPatients)));
    expect(exportedKeys(resources)).not.toContain('Organization/org-1');
    expect(exportedKeys(resources)).not.toContain('Observation/obs-location');
    expect(exportedKeys(resources).some((k) => k.startsWith('Group/'))).toBe(false);
  });

  it("SHALL restrict a Patient-level export to the POST patient parameter's patients", async () => {
    const chosen = ['Patient/pat-000001', 'Patient/pat-000003'];
    const { resources } = await runExport(target, 'Patient/$export', {
      body: parameters(chosen.map((p) => ['patient', p] as [string, string])),
    });
    expect(exportedKeys(resources)).toEqual(keys(compartmentOf(chosen)));
  });

  it("SHALL export, at the Group level, the compartments of the Group's members", async () => {
    const { resources, manifest } = await runExport(target, 'Group/demo-cohort/$export');
    expect(exportedKeys(resources)).toEqual(keys(compartmentOf(allPatients)));
    expect(manifest.request).toMatch(/\/Group\/demo-cohort\/\$export$/);
  });

  it('Group membership: inactive members and members outside their period are left out', async () => {
    const { resources } = await runExport(target, 'Group/cohort-mixed/$export');
    expect(exportedKeys(resources)).toEqual(keys(compartmentOf(['Patient/pat-000001'])));
  });

  it("SHALL restrict a Group-level export to the POST patient parameter's patients that are members", async () => {
    const { resources } = await runExport(target, 'Group/demo-cohort/$export', {
      body: parameters([
        ['patient', 'Patient/pat-000002'],
        ['_type', 'Patient,Condition'],
      ]),
    });
    expect(exportedKeys(resources)).toEqual(
      keys(
        compartmentOf(['Patient/pat-000002']).filter((r) =>
          ['Patient', 'Condition'].includes(r.resourceType),
        ),
      ),
    );
  });

  it('SHALL apply _type and _since within a Group-level export', async () => {
    const since = '2025-01-01T00:00:00.000Z';
    const { resources } = await runExport(target, 'Group/demo-cohort/$export', {
      query: `_type=Patient,Observation&_since=${since}`,
    });
    const expected = compartmentOf(allPatients).filter(
      (r) =>
        ['Patient', 'Observation'].includes(r.resourceType) &&
        String((r.meta as { lastUpdated: string }).lastUpdated) >= since,
    );
    expect(exportedKeys(resources)).toEqual(keys(expected));
  });

  it('a system-level export includes resources outside every patient compartment', async () => {
    const { resources } = await runExport(target, '$export', { query: '_type=Organization,Observation' });
    expect(exportedKeys(resources)).toEqual(
      keys(seeded.filter((r) => ['Organization', 'Observation'].includes(r.resourceType))),
    );
  });
});
