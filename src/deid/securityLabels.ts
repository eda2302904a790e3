/**
 * The security labels that say what de-identification did to a resource, in the order the
 * anonymization tools write them.
 */
export const SECURITY_LABEL_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';

/** The order in which labels are appended; CRYTOHASH is spelled as the code system spells it. */
export const LABEL_ORDER = [
  'REDACTED',
  'ABSTRED',
  'CRYTOHASH',
  'MASKED',
  'PERTURBED',
  'SUBSTITUTED',
  'GENERALIZED',
] as const;

export type SecurityLabel = (typeof LABEL_ORDER)[number];

const DISPLAYS: Record<SecurityLabel, string> = {
  REDACTED: 'redacted',
  ABSTRED: 'abstracted',
  CRYTOHASH: 'cryptographic hash function',
  MASKED: 'masked',
  PERTURBED: 'exact value is replaced with another exact value',
  SUBSTITUTED: 'exact value is replaced with a predefined value',
  GENERALIZED: 'exact value is replaced with a range',
};

export function securityCoding(label: SecurityLabel): Record<string, string> {
  return { system: SECURITY_LABEL_SYSTEM, code: label, display: DISPLAYS[label] };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends the labels to `meta.security` in the documented order, skipping codes already there. */
export function addSecurityLabels(
  resource: Record<string, unknown>,
  labels: ReadonlySet<SecurityLabel>,
): void {
  if (labels.size === 0) return;
  const meta = isObject(resource.meta) ? resource.meta : {};
  const security = Array.isArray(meta.security) ? (meta.security as unknown[]) : [];
  const present = new Set(
    security
      .filter(isObject)
      .flatMap((coding) => (coding.system === SECURITY_LABEL_SYSTEM ? [coding.code] : [])),
  );
  for (const label of LABEL_ORDER) {
    if (labels.has(label) && !present.has(label)) security.push(securityCoding(label));
  }
  meta.security = security;
  resource.meta = meta;
}

/** What a resource becomes when it cannot be de-identified under `processingErrors: skip`. */
export function redactedStub(resourceType: unknown): Record<string, unknown> {
  return { resourceType, meta: { security: [securityCoding('REDACTED')] } };
}
