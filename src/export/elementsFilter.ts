/**
 * `_elements`: keep the requested root elements plus those every resource must keep, and mark the
 * resource as subsetted, as FHIR's search `_elements` does.
 */
const ALWAYS_KEPT = new Set(['resourceType', 'id', 'meta']);
/** Root elements with minimum cardinality 1 in R4, for the common clinical types. */
const REQUIRED_BY_TYPE: Record<string, string[]> = {
  AllergyIntolerance: ['patient'],
  CarePlan: ['status', 'intent', 'subject'],
  CareTeam: [],
  Claim: ['status', 'type', 'use', 'patient', 'created', 'provider', 'priority', 'insurance'],
  Condition: ['subject'],
  Coverage: ['status', 'beneficiary', 'payor'],
  DiagnosticReport: ['status', 'code'],
  DocumentReference: ['status', 'content'],
  Encounter: ['status', 'class'],
  ExplanationOfBenefit: [
    'status',
    'type',
    'use',
    'patient',
    'created',
    'insurer',
    'provider',
    'outcome',
    'insurance',
  ],
  Goal: ['lifecycleStatus', 'description', 'subject'],
  Group: ['type', 'actual'],
  Immunization: ['status', 'vaccineCode', 'patient', 'occurrence[x]'],
  MedicationAdministration: ['status', 'medication[x]', 'subject', 'effective[x]'],
  MedicationRequest: ['status', 'intent', 'medication[x]', 'subject'],
  MedicationStatement: ['status', 'medication[x]', 'subject'],
  Observation: ['status', 'code'],
  Procedure: ['status', 'subject'],
  ServiceRequest: ['status', 'intent', 'subject'],
};
const SUBSETTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
};

/** Elements that apply to `resourceType`: bare names and `Type.name` entries for that type. */
export function elementsForType(elements: string[], resourceType: string): string[] {
  const names: string[] = [];
  for (const element of elements) {
    const dot = element.indexOf('.');
    if (dot < 0) names.push(element);
    else if (element.slice(0, dot) === resourceType) names.push(element.slice(dot + 1));
  }
  return names;
}

export function applyElements(resourceJson: string, requested: string[]): string {
  if (requested.length === 0) return resourceJson;
  return JSON.stringify(elementsOf(JSON.parse(resourceJson) as Record<string, unknown>, requested));
}

/** The subset of a parsed resource that `requested` (not empty) keeps, tagged SUBSETTED. */
export function elementsOf(resource: Record<string, unknown>, requested: string[]): Record<string, unknown> {
  const keep = [...requested, ...(REQUIRED_BY_TYPE[String(resource.resourceType)] ?? [])];
  const subset: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource)) {
    // A choice element `value[x]` keeps valueQuantity, valueString, …
    const kept = keep.some((k) => k === name || (k.endsWith('[x]') && name.startsWith(k.slice(0, -3))));
    if (ALWAYS_KEPT.has(name) || kept) subset[name] = value;
  }
  const meta = { ...((subset.meta as Record<string, unknown> | undefined) ?? {}) };
  const tags = Array.isArray(meta.tag) ? [...(meta.tag as unknown[])] : [];
  tags.push(SUBSETTED);
  meta.tag = tags;
  subset.meta = meta;
  return subset;
}
