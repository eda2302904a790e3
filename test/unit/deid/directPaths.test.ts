/**
 * The direct rule paths (read from the JSON index) against FHIRPath evaluating every rule: for the
 * synthetic dataset and edge cases, under the Safe Harbor configuration and one with every shape of
 * path, both give the same bytes, the same skips and the same errors.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createDeidentifier } from '../../../src/deid/engine';
import { deidEngine, type DeidOutcome } from '../../../src/deid';
import { comparisonResources } from './edgeResources';
import { configText, KEYS, type Json } from './helpers';

const SAFE_HARBOR = readFileSync(
  path.join(__dirname, '..', '..', 'fixtures', 'deid', 'safe-harbor.json'),
  'utf8',
);

const DATE_CASES = { '$this < @1950-01-01': "'1900'", '$this >= @1950-01-01': "'1950'" };

/** One rule per shape: member chains, choices, companions, the two functions, tails, and FHIRPath-only forms. */
const EVERY_SHAPE: Json[] = [
  { path: 'Resource.meta.security', method: 'keep' },
  { path: 'Patient.name.given.extension', method: 'redact' },
  { path: 'Patient.name.given.id', method: 'cryptoHash' },
  { path: 'Patient.name.family.extension.value', method: 'substitute', replaceWith: 'z' },
  { path: "Patient.contact.nodesByName('family')", method: 'encrypt' },
  { path: 'Observation.value', method: 'perturb', span: 2 },
  { path: 'Observation.component.value', method: 'perturb', span: 1, rangeType: 'proportional', roundTo: 1 },
  { path: "nodesByType('Extension').url", method: 'keep' },
  { path: "nodesByType('Extension').value", method: 'redact' },
  { path: "nodesByType('HumanName').where(use = 'official' or family = 'Doe').family", method: 'cryptoHash' },
  { path: "nodesByType('Quantity').where(value > 50).value", method: 'redact' },
  { path: "nodesByType('Coding').first().display", method: 'redact' },
  { path: 'name[0].given', method: 'encrypt' },
  { path: 'Patient.telecom.value | Patient.contact.telecom.value', method: 'redact' },
  { path: 'descendants().ofType(Period).start', method: 'dateShift' },
  { path: 'Patient.birthDate', method: 'generalize', cases: DATE_CASES, otherValues: 'keep' },
  { path: 'Patient.address', method: 'substitute', replaceWith: { country: 'XX', line: ['0'] } },
  { path: 'Patient.gender', method: 'substitute', replaceWith: 'other' },
  { path: 'Patient.multipleBirth', method: 'perturb', span: 3 },
  { path: 'Resource.id', method: 'cryptoHash' },
  { path: 'Bundle.entry.fullUrl', method: 'cryptoHash' },
  { path: "nodesByName('reference')", method: 'cryptoHash' },
  { path: 'Encounter.length.value', method: 'perturb', span: 10 },
  { path: 'text', method: 'redact' },
  { path: "nodesByType('date')", method: 'generalize', cases: DATE_CASES },
  { path: "nodesByType('dateTime')", method: 'dateShift' },
  { path: "nodesByType('instant')", method: 'dateShift' },
  { path: "nodesByType('string')", method: 'cryptoHash' },
  { path: "nodesByName('code').extension", method: 'redact' },
  { path: 'Resource', method: 'keep' },
];

const CONFIGS: [string, string][] = [
  ['Safe Harbor', SAFE_HARBOR],
  ['every shape (raise)', configText(EVERY_SHAPE, { enablePartialDatesForRedact: true })],
  ['every shape (skip)', configText(EVERY_SHAPE, {}, { processingErrors: 'skip' })],
];

function outcome(run: () => DeidOutcome): string {
  try {
    return JSON.stringify(run());
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

describe.each(CONFIGS)('under %s', (_name, text) => {
  const config = deidEngine.compile(text);
  const direct = createDeidentifier(config, KEYS, 'job-diff');
  const fhirpath = createDeidentifier(config, KEYS, 'job-diff', { fhirpathOnly: true });
  const resources = comparisonResources();

  it(`given ${resources.length} resources, then the direct paths give what FHIRPath gives, byte for byte`, () => {
    const differ = resources.flatMap((resource) => {
      const expected = outcome(() => fhirpath.deidentify(structuredClone(resource)));
      const actual = outcome(() => direct.deidentify(structuredClone(resource)));
      return actual === expected ? [] : [{ id: resource.id, expected, actual }];
    });
    expect(differ).toEqual([]);
  });
});
