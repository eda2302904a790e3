/** The code systems and value lists the synthetic data draws from: codes, names, streets and places. */
import type { Coding } from './syntheticTypes';

export const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const CVX = 'http://hl7.org/fhir/sid/cvx';
export const UCUM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
export const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
export const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
export const ALLERGY_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
export const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const MRN_SYSTEM = 'urn:durable-fhir-export:synthetic:mrn';

export interface Measurement {
  code: string;
  display: string;
  unit: string;
  min: number;
  max: number;
  decimals: number;
  category: 'vital-signs' | 'laboratory';
}

export const MEASUREMENTS: readonly Measurement[] = [
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

export const CONDITIONS: readonly Coding[] = [
  { system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2' },
  { system: SNOMED, code: '38341003', display: 'Hypertensive disorder' },
  { system: SNOMED, code: '195967001', display: 'Asthma' },
  { system: SNOMED, code: '55822004', display: 'Hyperlipidemia' },
  { system: SNOMED, code: '35489007', display: 'Depressive disorder' },
  { system: SNOMED, code: '444814009', display: 'Viral sinusitis' },
  { system: SNOMED, code: '10509002', display: 'Acute bronchitis' },
  { system: SNOMED, code: '40055000', display: 'Chronic sinusitis' },
];

export const PROCEDURES: readonly Coding[] = [
  { system: SNOMED, code: '73761001', display: 'Colonoscopy' },
  { system: SNOMED, code: '80146002', display: 'Appendectomy' },
  { system: SNOMED, code: '430193006', display: 'Medication reconciliation' },
  { system: SNOMED, code: '117015009', display: 'Throat culture' },
  { system: SNOMED, code: '171207006', display: 'Depression screening' },
];

export const MEDICATIONS: readonly Coding[] = [
  { system: RXNORM, code: '860975', display: 'Metformin hydrochloride 500 MG Extended Release Oral Tablet' },
  { system: RXNORM, code: '314076', display: 'lisinopril 10 MG Oral Tablet' },
  { system: RXNORM, code: '197361', display: 'amlodipine 5 MG Oral Tablet' },
  { system: RXNORM, code: '314231', display: 'Simvastatin 10 MG Oral Tablet' },
  { system: RXNORM, code: '313782', display: 'Acetaminophen 325 MG Oral Tablet' },
  { system: RXNORM, code: '834061', display: 'Penicillin V Potassium 250 MG Oral Tablet' },
];

export const VACCINES: readonly Coding[] = [
  { system: CVX, code: '140', display: 'Influenza, seasonal, injectable, preservative free' },
  { system: CVX, code: '08', display: 'Hep B, adolescent or pediatric' },
  { system: CVX, code: '113', display: 'Td (adult) preservative free' },
  { system: CVX, code: '115', display: 'Tdap' },
  { system: CVX, code: '133', display: 'Pneumococcal conjugate PCV 13' },
  { system: CVX, code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' },
];

export const ALLERGIES: readonly { coding: Coding; category: 'food' | 'medication' | 'environment' }[] = [
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

export const ENCOUNTER_TYPES: readonly { classCode: string; classDisplay: string; type: Coding }[] = [
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

export const GIVEN_FEMALE = [
  'Ada',
  'Maria',
  'Grace',
  'Lena',
  'Sofia',
  'Amara',
  'Yuki',
  'Ingrid',
  'Nadia',
  'Elena',
];
export const GIVEN_MALE = [
  'Liam',
  'Noah',
  'Mateo',
  'Kenji',
  'Omar',
  'Lars',
  'Tomas',
  'Arjun',
  'Felix',
  'Diego',
];
export const FAMILY = [
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
export const STREETS = [
  'Maple Street',
  'Harbor Road',
  'Birch Lane',
  'Station Avenue',
  'Mill Court',
  'Orchard Way',
];
export const PLACES: readonly { city: string; state: string; zip: string }[] = [
  { city: 'Springfield', state: 'MA', zip: '01103' },
  { city: 'Salem', state: 'OR', zip: '97301' },
  { city: 'Madison', state: 'WI', zip: '53703' },
  { city: 'Austin', state: 'TX', zip: '78701' },
  { city: 'Boulder', state: 'CO', zip: '80302' },
];
