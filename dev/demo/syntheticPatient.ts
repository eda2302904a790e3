/**
 * One synthetic patient: its resource counts (the plan) and its resources, Patient first.
 *
 * Ids (URL-safe, fixed width for the first million patients):
 *   Patient pat-000001, Encounter enc-000001-01, Observation obs-000001-003, Condition cnd-000001-01,
 *   Procedure prc-000001-01, MedicationRequest med-000001-01, Immunization imm-000001-01,
 *   AllergyIntolerance alg-000001-01.
 * Every reference points at a resource of the same patient that is yielded before it.
 */
import type { FhirResource, Meta, Reference } from './syntheticTypes';
import { CONTENT_STREAM, COUNT_STREAM, Random, deriveSeed } from './syntheticRandom';
import type { ResolvedOptions, ResourceMix } from './syntheticOptions';
import {
  ACT_CODE,
  ALLERGIES,
  ALLERGY_CLINICAL,
  ALLERGY_VERIFICATION,
  CONDITIONS,
  CONDITION_CLINICAL,
  CONDITION_VERIFICATION,
  ENCOUNTER_TYPES,
  FAMILY,
  GIVEN_FEMALE,
  GIVEN_MALE,
  LOINC,
  MEASUREMENTS,
  MEDICATIONS,
  MRN_SYSTEM,
  OBSERVATION_CATEGORY,
  PLACES,
  PROCEDURES,
  STREETS,
  UCUM,
  VACCINES,
} from './syntheticVocabulary';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Clinical dates (encounters etc.) fall in 2015-01-01 .. 2025-12-31. */
const CLINICAL_START = Date.UTC(2015, 0, 1);
const CLINICAL_END = Date.UTC(2025, 11, 31);

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** How many resources of each kind one patient has; drawn from the count stream only. */
export interface PatientPlan {
  observationsPerEncounter: number[];
  conditions: number;
  procedures: number;
  medicationRequests: number;
  immunizations: number;
  allergyIntolerances: number;
}

export function planPatient(seed: number, patient: number, mix: ResourceMix): PatientPlan {
  const rng = new Random(deriveSeed(seed, COUNT_STREAM, patient));
  const encounters = rng.range(mix.encountersPerPatient);
  return {
    observationsPerEncounter: Array.from({ length: encounters }, () =>
      rng.range(mix.observationsPerEncounter),
    ),
    conditions: rng.range(mix.conditionsPerPatient),
    procedures: rng.range(mix.proceduresPerPatient),
    medicationRequests: rng.range(mix.medicationRequestsPerPatient),
    immunizations: rng.range(mix.immunizationsPerPatient),
    allergyIntolerances: rng.range(mix.allergyIntolerancesPerPatient),
  };
}

/** Id of patient number `n` (1-based), e.g. `pat-000001`. */
export function patientId(n: number): string {
  return `pat-${pad(n, 6)}`;
}

/** The resources of patient number `patient`, each referenced resource before its referrers. */
export function* patientResources(patient: number, o: ResolvedOptions): Generator<FhirResource> {
  const plan = planPatient(o.seed, patient, o.mix);
  const rng = new Random(deriveSeed(o.seed, CONTENT_STREAM, patient));
  const num = pad(patient, 6);
  const pid = patientId(patient);
  const subject: Reference = { reference: `Patient/${pid}` };
  const meta = (): Meta => ({
    versionId: '1',
    lastUpdated: new Date(o.windowStart + Math.floor(rng.float() * (o.windowSpan + 1))).toISOString(),
  });
  const clinicalInstant = (): number =>
    CLINICAL_START + Math.floor(rng.float() * (CLINICAL_END - CLINICAL_START));

  // Patient
  const genderRoll = rng.float();
  const gender = genderRoll < 0.49 ? 'female' : genderRoll < 0.98 ? 'male' : 'other';
  const given = rng.pick(
    gender === 'male' ? GIVEN_MALE : gender === 'female' ? GIVEN_FEMALE : [...GIVEN_FEMALE, ...GIVEN_MALE],
  );
  const family = rng.pick(FAMILY);
  const place = rng.pick(PLACES);
  const birth =
    Date.UTC(1935, 0, 1) + Math.floor(rng.float() * (Date.UTC(2015, 0, 1) - Date.UTC(1935, 0, 1)));
  yield {
    resourceType: 'Patient',
    id: pid,
    meta: meta(),
    identifier: [{ system: MRN_SYSTEM, value: `MRN-${num}` }],
    active: true,
    name: [{ use: 'official', family, given: [given] }],
    gender,
    birthDate: new Date(birth).toISOString().slice(0, 10),
    address: [
      {
        use: 'home',
        line: [`${rng.int(1, 999)} ${rng.pick(STREETS)}`],
        city: place.city,
        state: place.state,
        postalCode: place.zip,
        country: 'US',
      },
    ],
  };

  // Encounters, each followed by its Observations
  const encounterStarts: number[] = [];
  let observation = 0;
  for (let e = 0; e < plan.observationsPerEncounter.length; e++) {
    const eid = `enc-${num}-${pad(e + 1, 2)}`;
    const kind = rng.pick(ENCOUNTER_TYPES);
    const start = clinicalInstant();
    const end = start + rng.int(15, 120) * 60 * 1000;
    encounterStarts.push(start);
    yield {
      resourceType: 'Encounter',
      id: eid,
      meta: meta(),
      status: 'finished',
      class: { system: ACT_CODE, code: kind.classCode, display: kind.classDisplay },
      type: [{ coding: [kind.type], text: kind.type.display }],
      subject,
      period: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    };
    for (let k = 0; k < plan.observationsPerEncounter[e]; k++) {
      observation += 1;
      const m = rng.pick(MEASUREMENTS);
      const factor = 10 ** m.decimals;
      const value = Math.round((m.min + rng.float() * (m.max - m.min)) * factor) / factor;
      yield {
        resourceType: 'Observation',
        id: `obs-${num}-${pad(observation, 3)}`,
        meta: meta(),
        status: rng.chance(o.mix.amendedObservationRatio) ? 'amended' : 'final',
        category: [
          {
            coding: [
              {
                system: OBSERVATION_CATEGORY,
                code: m.category,
                display: m.category === 'laboratory' ? 'Laboratory' : 'Vital Signs',
              },
            ],
          },
        ],
        code: { coding: [{ system: LOINC, code: m.code, display: m.display }], text: m.display },
        subject,
        encounter: { reference: `Encounter/${eid}` },
        effectiveDateTime: new Date(start).toISOString(),
        valueQuantity: { value, unit: m.unit, system: UCUM, code: m.unit },
      };
    }
  }
  const encounterRef = (i: number): Reference => ({ reference: `Encounter/enc-${num}-${pad(i + 1, 2)}` });
  const someEncounter = (): { ref?: Reference; at: number } => {
    if (encounterStarts.length === 0) return { at: clinicalInstant() };
    const i = rng.int(0, encounterStarts.length - 1);
    return { ref: encounterRef(i), at: encounterStarts[i] };
  };

  for (let c = 0; c < plan.conditions; c++) {
    const coding = rng.pick(CONDITIONS);
    const enc = someEncounter();
    const status = rng.pick(['active', 'active', 'resolved', 'remission'] as const);
    yield {
      resourceType: 'Condition',
      id: `cnd-${num}-${pad(c + 1, 2)}`,
      meta: meta(),
      clinicalStatus: { coding: [{ system: CONDITION_CLINICAL, code: status }] },
      verificationStatus: { coding: [{ system: CONDITION_VERIFICATION, code: 'confirmed' }] },
      code: { coding: [coding], text: coding.display },
      subject,
      ...(enc.ref ? { encounter: enc.ref } : {}),
      onsetDateTime: new Date(enc.at).toISOString(),
      ...(status === 'resolved'
        ? { abatementDateTime: new Date(enc.at + rng.int(7, 120) * DAY_MS).toISOString() }
        : {}),
    };
  }

  for (let p = 0; p < plan.procedures; p++) {
    const coding = rng.pick(PROCEDURES);
    const enc = someEncounter();
    yield {
      resourceType: 'Procedure',
      id: `prc-${num}-${pad(p + 1, 2)}`,
      meta: meta(),
      status: rng.chance(0.9) ? 'completed' : 'not-done',
      code: { coding: [coding], text: coding.display },
      subject,
      ...(enc.ref ? { encounter: enc.ref } : {}),
      performedDateTime: new Date(enc.at).toISOString(),
    };
  }

  for (let r = 0; r < plan.medicationRequests; r++) {
    const coding = rng.pick(MEDICATIONS);
    const enc = someEncounter();
    yield {
      resourceType: 'MedicationRequest',
      id: `med-${num}-${pad(r + 1, 2)}`,
      meta: meta(),
      status: rng.pick(['active', 'completed', 'completed', 'stopped'] as const),
      intent: 'order',
      medicationCodeableConcept: { coding: [coding], text: coding.display },
      subject,
      ...(enc.ref ? { encounter: enc.ref } : {}),
      authoredOn: new Date(enc.at).toISOString(),
    };
  }

  for (let i = 0; i < plan.immunizations; i++) {
    const coding = rng.pick(VACCINES);
    yield {
      resourceType: 'Immunization',
      id: `imm-${num}-${pad(i + 1, 2)}`,
      meta: meta(),
      status: rng.chance(0.95) ? 'completed' : 'not-done',
      vaccineCode: { coding: [coding], text: coding.display },
      patient: subject,
      occurrenceDateTime: new Date(clinicalInstant()).toISOString(),
      primarySource: true,
    };
  }

  for (let a = 0; a < plan.allergyIntolerances; a++) {
    const allergy = rng.pick(ALLERGIES);
    yield {
      resourceType: 'AllergyIntolerance',
      id: `alg-${num}-${pad(a + 1, 2)}`,
      meta: meta(),
      clinicalStatus: { coding: [{ system: ALLERGY_CLINICAL, code: 'active' }] },
      verificationStatus: { coding: [{ system: ALLERGY_VERIFICATION, code: 'confirmed' }] },
      type: 'allergy',
      category: [allergy.category],
      criticality: rng.pick(['low', 'low', 'high'] as const),
      code: { coding: [allergy.coding], text: allergy.coding.display },
      patient: subject,
      recordedDate: new Date(clinicalInstant()).toISOString(),
    };
  }
}
