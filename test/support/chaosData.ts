/**
 * The data of the chaos test: what its FHIR source holds, and exactly which resources an export of
 * it must hold, for any request the test (or a kick-off it retried) made.
 */
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { generateGroup } from '../../dev/demo/syntheticGroup';
import { patientId } from '../../dev/demo/syntheticPatient';
import type { ExportRequest } from '../../src/export/model';

type Resource = { resourceType: string; id: string } & Record<string, unknown>;

export const CHAOS_PATIENTS = 4;
export const CHAOS_GROUP_ID = 'chaos-cohort';
const MEMBERS = [1, 3, 4].map(patientId);

/** The types of the data (every one holds resources), for `_type`. */
export const CHAOS_TYPES = [
  'AllergyIntolerance',
  'Condition',
  'Encounter',
  'Immunization',
  'MedicationRequest',
  'Observation',
  'Patient',
  'Procedure',
];

/** `_since` instants that each keep part of the data (it spans 2024 and 2025). */
export const CHAOS_SINCES = [
  '2024-07-01T00:00:00.000Z',
  '2025-01-01T00:00:00.000Z',
  '2025-06-01T00:00:00.000Z',
];

const clinical = [...generateDataset({ patients: CHAOS_PATIENTS, seed: 7 })] as Resource[];
const group = generateGroup(CHAOS_GROUP_ID, MEMBERS) as unknown as Resource;

/** Every resource the source holds. */
export function chaosResources(): Resource[] {
  return [...clinical, group];
}

/** The patient a generated resource belongs to (`subject` or `patient`), or the Patient itself. */
function ownerOf(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const reference = (resource.subject ?? resource.patient) as { reference?: string } | undefined;
  return reference?.reference?.replace(/^Patient\//, '');
}

/** Sorted ids per type of the resources an export of `request` holds. */
export function expectedFor(request: ExportRequest): Record<string, string[]> {
  let kept: Resource[];
  if (request.level === 'system') {
    kept = chaosResources();
  } else {
    const patients = new Set(
      request.level === 'group'
        ? MEMBERS
        : request.patients.length > 0
          ? request.patients.map((p) => p.replace(/^Patient\//, ''))
          : clinical.filter((r) => r.resourceType === 'Patient').map((r) => r.id),
    );
    kept = clinical.filter((r) => patients.has(ownerOf(r) ?? ''));
    // The Group is in its members' compartments (Group.member).
    if (MEMBERS.some((member) => patients.has(member))) kept.push(group);
  }
  const since = request.since === undefined ? undefined : Date.parse(request.since);
  const out: Record<string, string[]> = {};
  for (const resource of kept) {
    if (request.types.length > 0 && !request.types.includes(resource.resourceType)) continue;
    const lastUpdated = Date.parse((resource.meta as { lastUpdated: string }).lastUpdated);
    if (since !== undefined && lastUpdated < since) continue;
    (out[resource.resourceType] ??= []).push(resource.id);
  }
  for (const ids of Object.values(out)) ids.sort();
  return out;
}
