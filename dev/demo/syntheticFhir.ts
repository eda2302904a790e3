/**
 * Deterministic synthetic FHIR R4 data for demos, load tests and end-to-end tests.
 *
 * Every patient is generated from its own pseudo-random stream, derived from (seed, patient
 * number), so patient 12 is the same whether 100 or 1,000,000 patients are generated, datasets
 * can be produced in slices (`firstPatient`), and nothing but one patient is held in memory.
 * Resource counts come from a separate stream, so countByType never builds a resource.
 * Ids and the contents of one patient are described in syntheticPatient.ts.
 */
import { FhirResource, SYNTHETIC_RESOURCE_TYPES, SyntheticResourceType } from './syntheticTypes';
import { DatasetOptions, resolveOptions } from './syntheticOptions';
import { patientResources, planPatient } from './syntheticPatient';

/** All resources of patient number `patient`, Patient first, each referenced resource before its referrers. */
export function generatePatientResources(
  patient: number,
  options: Omit<DatasetOptions, 'patients' | 'firstPatient'> = {},
): FhirResource[] {
  const resolved = resolveOptions({ ...options, patients: 1, firstPatient: patient });
  return [...patientResources(patient, resolved)];
}

function emptyCounts(): Record<SyntheticResourceType, number> {
  return Object.fromEntries(SYNTHETIC_RESOURCE_TYPES.map((t) => [t, 0])) as Record<
    SyntheticResourceType,
    number
  >;
}

/**
 * Streams the dataset: patient by patient (`firstPatient` .. `firstPatient + patients - 1`),
 * each Patient followed by its own resources. Only one patient's resources exist at a time.
 */
export function* generateDataset(options: DatasetOptions): Generator<FhirResource, void, undefined> {
  const resolved = resolveOptions(options);
  for (let n = resolved.firstPatient; n < resolved.firstPatient + resolved.patients; n++) {
    yield* patientResources(n, resolved);
  }
}

/** Resources per type that generateDataset yields for the same options, without generating them. */
export function countByType(options: DatasetOptions): Record<SyntheticResourceType, number> {
  const o = resolveOptions(options);
  const counts = emptyCounts();
  for (let n = o.firstPatient; n < o.firstPatient + o.patients; n++) {
    const plan = planPatient(o.seed, n, o.mix);
    counts.Patient += 1;
    counts.Encounter += plan.observationsPerEncounter.length;
    counts.Observation += plan.observationsPerEncounter.reduce((sum, x) => sum + x, 0);
    counts.Condition += plan.conditions;
    counts.Procedure += plan.procedures;
    counts.MedicationRequest += plan.medicationRequests;
    counts.Immunization += plan.immunizations;
    counts.AllergyIntolerance += plan.allergyIntolerances;
  }
  return counts;
}
