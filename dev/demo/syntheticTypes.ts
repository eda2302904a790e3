/** The resource types and minimal FHIR R4 shapes of the synthetic data (only what is generated). */

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
