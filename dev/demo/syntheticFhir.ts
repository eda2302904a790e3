/**
 * Deterministic synthetic FHIR R4 data for demos, load tests and end-to-end tests.
 *
 * Every patient is generated from its own pseudo-random stream, derived from (seed, patient
 * number), so patient 12 is the same whether 100 or 1,000,000 patients are generated, datasets
 * can be produced in slices (`firstPatient`), and nothing but one patient is held in memory.
 * Resource counts come from a separate stream, so countByType never builds a resource.
 *
 * Ids (URL-safe, fixed width for the first million patients):
 *   Patient pat-000001, Encounter enc-000001-01, Observation obs-000001-003, Condition cnd-000001-01,
 *   Procedure prc-000001-01, MedicationRequest med-000001-01, Immunization imm-000001-01,
 *   AllergyIntolerance alg-000001-01.
 * Every reference points at a resource of the same patient that is yielded before it.
 */

export const SYNTHETIC_RESOURCE_TYPES = [
  'Patient',
  'Encounter',
  'Observation',
  'Condition',
  'Procedure',
  'MedicationRequest',
  'Immunization',
  'AllergyIntolerance',
] as const;
export type SyntheticResourceType = (typeof SYNTHETIC_RESOURCE_TYPES)[number];

// ---- minimal FHIR R4 shapes (only what is generated) ----

export interface Meta {
  versionId: string;
  lastUpdated: string;
}
export interface Coding {
  system: string;
  code: string;
  display?: string;
}
export interface CodeableConcept {
  coding: Coding[];
  text?: string;
}
export interface Reference {
  reference: string;
}
export interface Quantity {
  value: number;
  unit: string;
  system: string;
  code: string;
}

/** Any generated resource. */
export interface FhirResource {
  resourceType: string;
  id: string;
  meta: Meta;
  [element: string]: unknown;
}

export interface GroupResource extends FhirResource {
  resourceType: 'Group';
  type: 'person';
  actual: true;
  name?: string;
  quantity: number;
  member: { entity: Reference; inactive?: boolean }[];
}

// ---- options ----

/** Inclusive [min, max] count range. */
export type CountRange = readonly [number, number];

export interface ResourceMix {
  encountersPerPatient: CountRange;
  observationsPerEncounter: CountRange;
  conditionsPerPatient: CountRange;
  proceduresPerPatient: CountRange;
  medicationRequestsPerPatient: CountRange;
  immunizationsPerPatient: CountRange;
  allergyIntolerancesPerPatient: CountRange;
  /** Share of Observations with status `amended` instead of `final`, 0..1. */
  amendedObservationRatio: number;
}

export const DEFAULT_MIX: Readonly<ResourceMix> = Object.freeze({
  encountersPerPatient: [2, 5] as const,
  observationsPerEncounter: [3, 4] as const,
  conditionsPerPatient: [1, 3] as const,
  proceduresPerPatient: [0, 2] as const,
  medicationRequestsPerPatient: [1, 3] as const,
  immunizationsPerPatient: [1, 3] as const,
  allergyIntolerancesPerPatient: [0, 2] as const,
  amendedObservationRatio: 0.1,
});

/** Default window of `meta.lastUpdated`. */
export const DEFAULT_WINDOW = Object.freeze({
  start: '2024-01-01T00:00:00.000Z',
  end: '2025-12-31T23:59:59.999Z',
});

export interface DatasetOptions {
  /** Number of patients to generate. */
  patients: number;
  /** Any integer; same seed → identical output. Default 1. */
  seed?: number;
  /** Number of the first patient (1-based), to generate a slice of a larger dataset. Default 1. */
  firstPatient?: number;
  /** Per-patient resource mix; missing entries fall back to DEFAULT_MIX. */
  mix?: Partial<ResourceMix>;
  /** Window for `meta.lastUpdated` (ISO instants, inclusive). Default DEFAULT_WINDOW. */
  lastUpdatedWindow?: { start: string; end: string };
}

// ---- PRNG ----

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes the seed, a stream number and a patient number into one 32-bit seed (murmur3 finalizer). */
function deriveSeed(seed: number, stream: number, patient: number): number {
  let h = (Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(patient, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  range(range: CountRange): number {
    return this.int(range[0], range[1]);
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const COUNT_STREAM = 1;
const CONTENT_STREAM = 2;

// ---- vocabularies ----

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const UCUM = 'http://unitsofmeasure.org';
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const ALLERGY_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const MRN_SYSTEM = 'urn:durable-fhir-export:synthetic:mrn';

interface Measurement {
  code: string;
  display: string;
  unit: string;
  min: number;
  max: number;
  decimals: number;
  category: 'vital-signs' | 'laboratory';
}

const MEASUREMENTS: readonly Measurement[] = [
  {
    code: '8867-4',
    display: 'Heart rate',
    unit: '/min',
    min: 55,
    max: 110,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '9279-1',
    display: 'Respiratory rate',
    unit: '/min',
    min: 11,
    max: 22,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '8480-6',
    display: 'Systolic blood pressure',
    unit: 'mm[Hg]',
    min: 95,
    max: 165,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '8462-4',
    display: 'Diastolic blood pressure',
    unit: 'mm[Hg]',
    min: 55,
    max: 100,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '8310-5',
    display: 'Body temperature',
    unit: 'Cel',
    min: 36.0,
    max: 38.8,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '29463-7',
    display: 'Body weight',
    unit: 'kg',
    min: 45,
    max: 120,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '8302-2',
    display: 'Body height',
    unit: 'cm',
    min: 150,
    max: 198,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '39156-5',
    display: 'Body mass index (BMI) [Ratio]',
    unit: 'kg/m2',
    min: 18,
    max: 38,
    decimals: 1,
    category: 'vital-signs',
  },
  {
    code: '59408-5',
    display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
    unit: '%',
    min: 90,
    max: 100,
    decimals: 0,
    category: 'vital-signs',
  },
  {
    code: '2339-0',
    display: 'Glucose [Mass/volume] in Blood',
    unit: 'mg/dL',
    min: 65,
    max: 190,
    decimals: 0,
    category: 'laboratory',
  },
];

const CONDITIONS: readonly Coding[] = [
  { system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' },
  { system: SNOMED, code: '38341003', display: 'Hypertensive disorder' },
  { system: SNOMED, code: '195967001', display: 'Asthma' },
  { system: SNOMED, code: '55822004', display: 'Hyperlipidemia' },
  { system: SNOMED, code: '35489007', display: 'Depressive disorder' },
  { system: SNOMED, code: '444814009', display: 'Viral sinusitis' },
  { system: SNOMED, code: '10509002', display: 'Acute bronchitis' },
  { system: SNOMED, code: '40055000', display: 'Chronic sinusitis' },
];

const PROCEDURES: readonly Coding[] = [
  { system: SNOMED, code: '73761001', display: 'Colonoscopy' },
  { system: SNOMED, code: '80146002', display: 'Appendectomy' },
  { system: SNOMED, code: '430193006', display: 'Medication reconciliation' },
  { system: SNOMED, code: '117015009', display: 'Throat culture' },
  { system: SNOMED, code: '171207006', display: 'Depression screening' },
];

const MEDICATIONS: readonly Coding[] = [
  { system: RXNORM, code: '860975', display: 'Metformin hydrochloride 500 MG Extended Release Oral Tablet' },
  { system: RXNORM, code: '314076', display: 'lisinopril 10 MG Oral Tablet' },
  { system: RXNORM, code: '197361', display: 'amlodipine 5 MG Oral Tablet' },
  { system: RXNORM, code: '314231', display: 'Simvastatin 10 MG Oral Tablet' },
  { system: RXNORM, code: '313782', display: 'Acetaminophen 325 MG Oral Tablet' },
  { system: RXNORM, code: '834061', display: 'Penicillin V Potassium 250 MG Oral Tablet' },
];

const VACCINES: readonly Coding[] = [
  { system: CVX, code: '140', display: 'Influenza, seasonal, injectable, preservative free' },
  { system: CVX, code: '08', display: 'Hep B, adolescent or pediatric' },
  { system: CVX, code: '113', display: 'Td (adult) preservative free' },
  { system: CVX, code: '115', display: 'Tdap' },
  { system: CVX, code: '133', display: 'Pneumococcal conjugate PCV 13' },
  { system: CVX, code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' },
];

const ALLERGIES: readonly { coding: Coding; category: 'food' | 'medication' | 'environment' }[] = [
  { coding: { system: SNOMED, code: '91936005', display: 'Allergy to penicillin' }, category: 'medication' },
  { coding: { system: SNOMED, code: '91935009', display: 'Allergy to peanuts' }, category: 'food' },
  { coding: { system: SNOMED, code: '300913006', display: 'Shellfish allergy' }, category: 'food' },
  {
    coding: { system: SNOMED, code: '418689008', display: 'Allergy to grass pollen' },
    category: 'environment',
  },
  {
    coding: { system: SNOMED, code: '232347008', display: 'Dander (animal) allergy' },
    category: 'environment',
  },
];

const ENCOUNTER_TYPES: readonly { classCode: string; classDisplay: string; type: Coding }[] = [
  {
    classCode: 'AMB',
    classDisplay: 'ambulatory',
    type: { system: SNOMED, code: '185349003', display: 'Encounter for check up' },
  },
  {
    classCode: 'AMB',
    classDisplay: 'ambulatory',
    type: { system: SNOMED, code: '185345009', display: 'Encounter for symptom' },
  },
  {
    classCode: 'AMB',
    classDisplay: 'ambulatory',
    type: { system: SNOMED, code: '162673000', display: 'General examination of patient' },
  },
  {
    classCode: 'EMER',
    classDisplay: 'emergency',
    type: { system: SNOMED, code: '50849002', display: 'Emergency room admission' },
  },
];

const GIVEN_FEMALE = ['Ada', 'Maria', 'Grace', 'Lena', 'Sofia', 'Amara', 'Yuki', 'Ingrid', 'Nadia', 'Elena'];
const GIVEN_MALE = ['Liam', 'Noah', 'Mateo', 'Kenji', 'Omar', 'Lars', 'Tomas', 'Arjun', 'Felix', 'Diego'];
const FAMILY = [
  'Okafor',
  'Lindqvist',
  'Moreau',
  'Tanaka',
  'Haddad',
  'Kowalski',
  'Silva',
  'Novak',
  'Brennan',
  'Ito',
  'Fischer',
  'Reyes',
];
const STREETS = ['Maple Street', 'Harbor Road', 'Birch Lane', 'Station Avenue', 'Mill Court', 'Orchard Way'];
const PLACES: readonly { city: string; state: string; zip: string }[] = [
  { city: 'Springfield', state: 'MA', zip: '01103' },
  { city: 'Salem', state: 'OR', zip: '97301' },
  { city: 'Madison', state: 'WI', zip: '53703' },
  { city: 'Austin', state: 'TX', zip: '78701' },
  { city: 'Boulder', state: 'CO', zip: '80302' },
];

// ---- helpers ----

const DAY_MS = 24 * 60 * 60 * 1000;
/** Clinical dates (encounters etc.) fall in 2015-01-01 .. 2025-12-31. */
const CLINICAL_START = Date.UTC(2015, 0, 1);
const CLINICAL_END = Date.UTC(2025, 11, 31);

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function resolveMix(mix: Partial<ResourceMix> | undefined): ResourceMix {
  const resolved: ResourceMix = { ...DEFAULT_MIX, ...(mix ?? {}) };
  for (const [name, value] of Object.entries(resolved)) {
    if (name === 'amendedObservationRatio') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new RangeError('amendedObservationRatio must be between 0 and 1');
      }
      continue;
    }
    const [min, max] = value as CountRange;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min) {
      throw new RangeError(`${name} must be an integer range [min, max] with 0 <= min <= max`);
    }
  }
  return resolved;
}

interface ResolvedOptions {
  seed: number;
  firstPatient: number;
  patients: number;
  mix: ResourceMix;
  windowStart: number;
  windowSpan: number;
}

function resolveOptions(options: DatasetOptions): ResolvedOptions {
  const { patients } = options;
  if (!Number.isInteger(patients) || patients < 0)
    throw new RangeError('patients must be a non-negative integer');
  const firstPatient = options.firstPatient ?? 1;
  if (!Number.isInteger(firstPatient) || firstPatient < 1) throw new RangeError('firstPatient must be >= 1');
  const seed = options.seed ?? 1;
  if (!Number.isFinite(seed)) throw new RangeError('seed must be a finite number');
  const window = options.lastUpdatedWindow ?? DEFAULT_WINDOW;
  const windowStart = Date.parse(window.start);
  const windowEnd = Date.parse(window.end);
  if (!Number.isFinite(windowStart) || !Number.isFinite(windowEnd) || windowEnd < windowStart) {
    throw new RangeError('lastUpdatedWindow must be two ISO instants, start <= end');
  }
  return {
    seed,
    firstPatient,
    patients,
    mix: resolveMix(options.mix),
    windowStart,
    windowSpan: windowEnd - windowStart,
  };
}

/** How many resources of each kind one patient has; drawn from the count stream only. */
interface PatientPlan {
  observationsPerEncounter: number[];
  conditions: number;
  procedures: number;
  medicationRequests: number;
  immunizations: number;
  allergyIntolerances: number;
}

function planPatient(seed: number, patient: number, mix: ResourceMix): PatientPlan {
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

function emptyCounts(): Record<SyntheticResourceType, number> {
  return Object.fromEntries(SYNTHETIC_RESOURCE_TYPES.map((t) => [t, 0])) as Record<
    SyntheticResourceType,
    number
  >;
}

// ---- generation ----

/** Id of patient number `n` (1-based), e.g. `pat-000001`. */
export function patientId(n: number): string {
  return `pat-${pad(n, 6)}`;
}

/** All resources of patient number `patient`, Patient first, each referenced resource before its referrers. */
export function generatePatientResources(
  patient: number,
  options: Omit<DatasetOptions, 'patients' | 'firstPatient'> = {},
): FhirResource[] {
  const resolved = resolveOptions({ ...options, patients: 1, firstPatient: patient });
  return [...patientResources(patient, resolved)];
}

function* patientResources(patient: number, o: ResolvedOptions): Generator<FhirResource> {
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

export interface GroupOptions {
  /** Group name. Default `Synthetic cohort {id}`. */
  name?: string;
  /** Patient ids whose membership is marked `inactive: true`. */
  inactiveMembers?: readonly string[];
  /** `meta.lastUpdated`. Default the start of DEFAULT_WINDOW. */
  lastUpdated?: string;
}

/** A Group (type person, actual) whose members are the given patients, in the given order. */
export function generateGroup(
  id: string,
  memberPatientIds: readonly string[],
  options: GroupOptions = {},
): GroupResource {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new RangeError(`'${id}' is not a valid FHIR id`);
  const inactive = new Set(options.inactiveMembers ?? []);
  return {
    resourceType: 'Group',
    id,
    meta: { versionId: '1', lastUpdated: options.lastUpdated ?? DEFAULT_WINDOW.start },
    type: 'person',
    actual: true,
    name: options.name ?? `Synthetic cohort ${id}`,
    quantity: memberPatientIds.length,
    member: memberPatientIds.map((pid) => ({
      entity: { reference: `Patient/${pid}` },
      ...(inactive.has(pid) ? { inactive: true } : {}),
    })),
  };
}
