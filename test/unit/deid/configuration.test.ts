import { AnonymizationConfigError, deidEngine, type ConfigurationIssue } from '../../../src/deid';
import { configText, KEYS, type Json } from './helpers';

function issuesOf(text: string): { message: string; issues: ConfigurationIssue[] } {
  try {
    deidEngine.compile(text);
  } catch (error) {
    if (error instanceof AnonymizationConfigError) return { message: error.message, issues: error.issues };
    throw error;
  }
  throw new Error('the configuration compiled');
}

const redactName = { path: 'Patient.name', method: 'redact' };

describe('compiling a configuration', () => {
  it('given a valid configuration with a byte-order mark, then it compiles with raise as the default', () => {
    const config = deidEngine.compile(`\uFEFF${configText([redactName])}`);
    expect(config.processingErrors).toBe('raise');
    expect(config.missingKeys).toEqual([]);
  });

  it('given an empty fhirVersion and processingErrors skip, then it compiles', () => {
    const config = deidEngine.compile(
      JSON.stringify({ fhirVersion: '', processingErrors: 'skip', fhirPathRules: [] }),
    );
    expect(config.processingErrors).toBe('skip');
  });

  it.each<[string, string, string]>([
    ['text that is not JSON', '{ nope', 'not valid JSON'],
    ['a JSON array', '[]', 'must be a JSON object'],
    [
      'fhirVersion STU3',
      JSON.stringify({ fhirVersion: 'Stu3', fhirPathRules: [] }),
      'fhirVersion must be R4',
    ],
    [
      'an unknown processingErrors',
      JSON.stringify({ processingErrors: 'ignore', fhirPathRules: [] }),
      'processingErrors',
    ],
    ['no fhirPathRules', JSON.stringify({ fhirVersion: 'R4' }), 'fhirPathRules must be a list'],
    ['fhirPathRules as an object', JSON.stringify({ fhirPathRules: {} }), 'fhirPathRules must be a list'],
  ])('given %s, then the message names the problem', (_case, text, reason) => {
    expect(issuesOf(text).message).toContain(reason);
  });

  it.each<[string, Json, string]>([
    ['a rule that is not an object', 'redact' as unknown as Json, 'must be an object'],
    ['a rule without a path', { method: 'redact' }, 'no path'],
    ['a rule without a method', { path: 'Patient.name' }, 'no method'],
    ['an unknown method', { path: 'Patient.name', method: 'scramble' }, 'unknown method "scramble"'],
    ['perturb without span', { path: 'Observation.value', method: 'perturb' }, 'span'],
    ['perturb with a negative span', { path: 'Observation.value', method: 'perturb', span: -1 }, 'span'],
    [
      'perturb with an unknown rangeType',
      { path: 'Observation.value', method: 'perturb', span: 1, rangeType: 'wide' },
      'rangeType',
    ],
    [
      'perturb with roundTo 29',
      { path: 'Observation.value', method: 'perturb', span: 1, roundTo: 29 },
      'roundTo',
    ],
    [
      'perturb with roundTo 1.5',
      { path: 'Observation.value', method: 'perturb', span: 1, roundTo: 1.5 },
      'roundTo',
    ],
    ['substitute without replaceWith', { path: 'Patient.name', method: 'substitute' }, 'replaceWith'],
    [
      'substitute with a list',
      { path: 'Patient.name', method: 'substitute', replaceWith: [] },
      'replaceWith',
    ],
    ['generalize without cases', { path: 'Patient.birthDate', method: 'generalize' }, 'cases'],
    [
      'generalize with an unknown otherValues',
      { path: 'Patient.birthDate', method: 'generalize', cases: {}, otherValues: 'hide' },
      'otherValues',
    ],
    [
      'generalize with a case that does not compile',
      { path: 'Patient.birthDate', method: 'generalize', cases: { '$this >': "'x'" } },
      'does not compile',
    ],
    [
      'generalize with a case value that does not compile',
      { path: 'Patient.birthDate', method: 'generalize', cases: { true: "'x" } },
      'does not compile',
    ],
    [
      'generalize with a case value that is not a string',
      { path: 'Patient.birthDate', method: 'generalize', cases: { true: 3 } },
      'must be a FHIRPath expression',
    ],
    ['a path that does not compile', { path: 'Patient.name.where(', method: 'redact' }, 'does not compile'],
    [
      'a path with an unknown function',
      { path: 'Patient.name.scramble()', method: 'redact' },
      'cannot be evaluated',
    ],
    [
      'a prefix that is not a resource type',
      { path: 'Patent.name', method: 'redact' },
      'not an R4 resource type',
    ],
  ])('given %s, then the issue names the rule', (_case, rule, reason) => {
    const { message, issues } = issuesOf(configText([redactName, rule]));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ ruleIndex: 1 });
    expect(issues[0].reason).toContain(reason);
    expect(message).toContain('rule 1');
  });

  it.each<[string, Json, string]>([
    ['an encryptKey of 10 bytes', { encryptKey: '0123456789' }, 'encryptKey'],
    ['an unknown dateShiftScope', { dateShiftScope: 'patient' }, 'dateShiftScope'],
    ['a fractional fixed offset', { dateShiftFixedOffsetInDays: 1.5 }, 'dateShiftFixedOffsetInDays'],
    ['a partial flag as a string', { enablePartialDatesForRedact: 'yes' }, 'enablePartialDatesForRedact'],
    [
      'a restricted zip prefix of four digits',
      { restrictedZipCodeTabulationAreas: ['0362'] },
      'restrictedZipCodeTabulationAreas',
    ],
    ['a cryptoHashKey as a number', { cryptoHashKey: 42 }, 'cryptoHashKey'],
  ])('given %s in the parameters, then the issue says which', (_case, parameters, reason) => {
    const { issues } = issuesOf(configText([redactName], parameters));
    expect(issues).toEqual([{ reason: expect.stringContaining(reason) }]);
  });

  it('given several problems, then the message names the first and the issues list all', () => {
    const text = JSON.stringify({
      fhirVersion: 'R5',
      fhirPathRules: [{ path: 'Patient.name', method: 'blur' }, { path: 'Patient.id' }],
    });
    const { message, issues } = issuesOf(text);
    expect(message).toContain('fhirVersion must be R4');
    expect(message).toContain('2 more');
    expect(issues.map((issue) => issue.ruleIndex)).toEqual([undefined, 0, 1]);
    expect(issues[1]).toMatchObject({ path: 'Patient.name' });
  });

  it('given 16, 24 and 32-byte encryption keys, then each compiles', () => {
    for (const key of ['a'.repeat(16), 'b'.repeat(24), 'é'.repeat(16)]) {
      expect(() => deidEngine.compile(configText([], { encryptKey: key }))).not.toThrow();
    }
  });
});

describe('missing keys', () => {
  const rules = [
    { path: 'Resource.id', method: 'cryptoHash' },
    { path: "nodesByType('date')", method: 'dateShift' },
    { path: 'Patient.name.family', method: 'encrypt' },
  ];

  it('given rules that need the three keys and no parameters, then all three are missing', () => {
    expect(deidEngine.compile(configText(rules)).missingKeys).toEqual([
      'cryptoHashKey',
      'dateShiftKey',
      'encryptKey',
    ]);
  });

  it('given the keys in the parameters or a fixed offset, then none is missing', () => {
    const parameters = { cryptoHashKey: 'k', dateShiftFixedOffsetInDays: 10, encryptKey: KEYS.encryptKey };
    expect(deidEngine.compile(configText(rules, parameters)).missingKeys).toEqual([]);
  });

  it('given a de-identifier without a missing key, then it is refused', () => {
    const config = deidEngine.compile(configText(rules));
    expect(() => deidEngine.deidentifier(config, { cryptoHashKey: 'k' }, 'seed')).toThrow(
      AnonymizationConfigError,
    );
  });

  it('given a job encryption key of the wrong length, then the de-identifier is refused', () => {
    const config = deidEngine.compile(configText(rules));
    expect(() => deidEngine.deidentifier(config, { ...KEYS, encryptKey: 'short' }, 'seed')).toThrow(
      '16, 24 or 32',
    );
  });
});
