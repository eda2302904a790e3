import { createHmac } from 'node:crypto';
import { DeidentificationError } from '../../../src/deid';
import { SECURITY_LABEL_SYSTEM } from '../../../src/deid/securityLabels';
import { deid, KEYS, labelCodes, run, type Json } from './helpers';

const hash = (value: string): string =>
  createHmac('sha256', KEYS.cryptoHashKey).update(value, 'utf8').digest('hex');

const patient = {
  resourceType: 'Patient',
  id: 'p1',
  name: [{ family: 'Doe', given: ['Jane'] }],
  contact: [{ name: { family: 'Roe' } }],
  photo: [{ size: 7 }],
};

describe('which resources a rule applies to', () => {
  it.each([
    ['Patient.name', true],
    ['Observation.code', false],
    ["nodesByType('HumanName')", true],
    ['Resource.name', true],
    ['DomainResource.name', true],
    ['name', true],
  ])('given the path %s, then a Patient is matched: %p', (path, matches) => {
    const out = deid(patient, [{ path, method: 'redact' }]);
    expect('name' in out).toBe(!matches);
  });

  it('given the bare path Resource, then the whole resource is matched but resourceType stays', () => {
    expect(deid(patient, [{ path: 'Resource', method: 'redact' }])).toEqual({
      resourceType: 'Patient',
      meta: { security: [expect.objectContaining({ code: 'REDACTED' })] },
    });
  });

  it('given nodesByType, then it finds nodes at every depth and types the unsignedInt', () => {
    const out = deid(patient, [
      { path: "nodesByType('HumanName')", method: 'redact' },
      { path: "nodesByType('unsignedInt')", method: 'substitute', replaceWith: '0' },
    ]);
    expect(out).not.toHaveProperty('name');
    expect(out).not.toHaveProperty('contact');
    expect(out.photo).toEqual([{ size: '0' }]);
  });

  it('given nodesByName below a node, then only the named descendants there are reached', () => {
    const out = deid(patient, [{ path: "Patient.contact.nodesByName('family')", method: 'redact' }]);
    expect(out.contact).toBeUndefined();
    expect(out.name).toEqual(patient.name);
  });
});

describe('the first rule that reaches a node wins', () => {
  it('given keep before redact, then the kept subtree survives', () => {
    const out = deid(patient, [
      { path: 'Patient.name.family', method: 'keep' },
      { path: "nodesByType('HumanName')", method: 'redact' },
    ]);
    expect(out.name).toEqual([{ family: 'Doe' }]);
    expect(out).not.toHaveProperty('contact');
  });

  it('given redact of a subtree before hashing a node in it, then the node stays redacted', () => {
    const out = deid(patient, [
      { path: 'Patient.name', method: 'redact' },
      { path: 'Patient.name.family', method: 'cryptoHash' },
    ]);
    expect(out).not.toHaveProperty('name');
    expect(labelCodes(out)).toEqual(['REDACTED']);
  });

  it('given a hash before the redaction of its parent, then the hash survives and the rest goes', () => {
    const out = deid(patient, [
      { path: 'Patient.name.family', method: 'cryptoHash' },
      { path: 'Patient.name', method: 'redact' },
    ]);
    expect(out.name).toEqual([{ family: hash('Doe') }]);
  });
});

describe('nested resources', () => {
  it('given contained resources, then they follow their own type and the parent rules skip them', () => {
    const resource = {
      resourceType: 'Patient',
      id: 'p1',
      name: [{ family: 'Doe' }],
      contained: [{ resourceType: 'Practitioner', id: 'pr', name: [{ family: 'House' }] }],
    };
    const out = deid(resource, [
      { path: 'Patient.descendants()', method: 'keep' },
      { path: 'Practitioner.name', method: 'redact' },
    ]);
    expect(out.name).toEqual([{ family: 'Doe' }]);
    expect(out.contained).toEqual([{ resourceType: 'Practitioner', id: 'pr' }]);
    expect(labelCodes(out)).toEqual(['REDACTED']);
  });

  it('given a Bundle, then each entry is processed by its type and the labels go to the Bundle only', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient', id: 'a', name: [{ family: 'Doe' }] } },
        { resource: { resourceType: 'Observation', id: 'b', subject: { reference: 'Patient/a' } } },
      ],
    };
    const out = deid(bundle, [
      { path: 'Bundle.entry.fullUrl', method: 'cryptoHash' },
      { path: 'Patient.name', method: 'redact' },
      { path: 'Resource.id', method: 'cryptoHash' },
      { path: "nodesByType('Reference').reference", method: 'cryptoHash' },
    ]);
    const [first, second] = out.entry as { fullUrl?: string; resource: Json }[];
    // Only Reference.reference is read as a reference; a fullUrl is hashed whole.
    expect(first.fullUrl).toBe(hash('urn:uuid:1'));
    expect(first.resource).toEqual({ resourceType: 'Patient', id: hash('a') });
    expect(second.resource).toEqual({
      resourceType: 'Observation',
      id: hash('b'),
      subject: { reference: `Patient/${hash('a')}` },
    });
    expect(first.resource).not.toHaveProperty('meta');
    expect(labelCodes(out)).toEqual(['REDACTED', 'CRYTOHASH']);
  });
});

describe('security labels', () => {
  it('given existing labels, then new ones follow in the documented order without duplicates', () => {
    const resource = {
      resourceType: 'Patient',
      id: 'p',
      gender: 'female',
      birthDate: '2000-01-02',
      name: [{ family: 'Doe' }],
      meta: {
        security: [
          { system: SECURITY_LABEL_SYSTEM, code: 'CRYTOHASH' },
          { system: 'http://other', code: 'X' },
        ],
      },
    };
    const out = deid(resource, [
      { path: 'Patient.gender', method: 'substitute', replaceWith: 'other' },
      { path: 'Patient.birthDate', method: 'dateShift' },
      { path: 'Patient.name', method: 'redact' },
      { path: 'Patient.id', method: 'cryptoHash' },
    ]);
    expect(labelCodes(out)).toEqual(['CRYTOHASH', 'X', 'REDACTED', 'PERTURBED', 'SUBSTITUTED']);
  });

  it('given rules that change nothing, then no label is added', () => {
    expect(deid(patient, [{ path: 'Patient.name', method: 'keep' }])).not.toHaveProperty('meta');
  });
});

describe('processing errors', () => {
  const bad = { resourceType: 'Patient', id: 'p', birthDate: 'secret-not-a-date' };
  const rules = [
    { path: 'Patient.name', method: 'redact' },
    { path: 'Patient.birthDate', method: 'dateShift' },
  ];

  it('given raise, then the error names the type, rule and method but not the content', () => {
    let caught: unknown;
    try {
      run(bad, rules);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DeidentificationError);
    const error = caught as DeidentificationError;
    expect(error).toMatchObject({ resourceType: 'Patient', ruleIndex: 1, statusCode: 400 });
    expect(error.message).toContain('Patient');
    expect(error.message).toContain('dateShift');
    expect(error.message).not.toContain('secret');
  });

  it('given skip, then the resource becomes the redacted stub and the outcome says why', () => {
    const outcome = run(bad, rules, {}, { processingErrors: 'skip' });
    expect(outcome.resource).toEqual({
      resourceType: 'Patient',
      meta: { security: [{ system: SECURITY_LABEL_SYSTEM, code: 'REDACTED', display: 'redacted' }] },
    });
    expect(outcome.skipped).toEqual({ ruleIndex: 1, reason: expect.not.stringContaining('secret') });
  });

  it('given a generalize case that fails on a value, then it is a processing error', () => {
    const outcome = run(
      { resourceType: 'Patient', birthDate: '2000-01-01' },
      [{ path: 'Patient.birthDate', method: 'generalize', cases: { "$this > 'a' + 1": "'x'" } }],
      {},
      { processingErrors: 'skip' },
    );
    expect(outcome.skipped).toEqual({ ruleIndex: 0, reason: 'a generalize case failed to evaluate' });
  });

  it('given a substitute string for a complex node, then it is a processing error', () => {
    expect(() => run(patient, [{ path: 'Patient.name', method: 'substitute', replaceWith: 'x' }])).toThrow(
      DeidentificationError,
    );
  });
});

describe('empty nodes', () => {
  it('given a redacted primitive in an array with extensions beside it, then the positions stay aligned', () => {
    const resource = {
      resourceType: 'Patient',
      name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'http://x', valueString: 'y' }] }] }],
    };
    const out = deid(resource, [{ path: 'Patient.name.given[0]', method: 'redact' }]);
    expect(out.name).toEqual([
      { given: ['B'], _given: [{ extension: [{ url: 'http://x', valueString: 'y' }] }] },
    ]);
  });
});
