import { createDecipheriv, createHmac } from 'node:crypto';
import { deid, KEYS, labelCodes, type Json } from './helpers';

const hash = (value: string): string =>
  createHmac('sha256', KEYS.cryptoHashKey).update(value, 'utf8').digest('hex');
const thisYear = new Date().getUTCFullYear();

/** The offset as the note describes it, written independently of the engine. */
function expectedOffset(id: string, key: string): number {
  const bytes = new TextEncoder().encode(id + key);
  return bytes.reduce((offset, byte) => (offset * 131 + byte) % 101, 0) - 50;
}

function addDays(date: string, days: number): string {
  const moved = new Date(`${date}T00:00:00Z`);
  moved.setUTCDate(moved.getUTCDate() + days);
  return moved.toISOString().slice(0, 10);
}

describe('redact', () => {
  const patient = {
    resourceType: 'Patient',
    id: 'p1',
    birthDate: '1980-05-06',
    address: [{ postalCode: '55606-1234' }, { postalCode: '03640' }],
    extension: [{ url: 'http://example.org/age', valueAge: { value: 89, unit: 'a' } }],
  };

  it('given no partial flags, then dates, ages and postal codes are removed', () => {
    const out = deid(patient, [{ path: 'Patient', method: 'redact' }]);
    expect(out).toEqual({ resourceType: 'Patient', meta: expect.anything() });
    expect(labelCodes(out)).toEqual(['REDACTED']);
  });

  it('given partial zip codes, then three digits stay outside restricted prefixes and none inside', () => {
    const out = deid(patient, [{ path: 'Patient.address.postalCode', method: 'redact' }], {
      enablePartialZipCodesForRedact: true,
      restrictedZipCodeTabulationAreas: ['036'],
    });
    expect(out.address).toEqual([{ postalCode: '55600-0000' }, { postalCode: '00000' }]);
    expect(labelCodes(out)).toEqual(['ABSTRED']);
  });

  it('given partial dates, then the year stays unless the date means an age over 89', () => {
    const dates = {
      resourceType: 'Patient',
      birthDate: '1980-05-06',
      deceasedDateTime: `${thisYear - 95}-01-01`,
    };
    const out = deid(dates, [{ path: "nodesByType('date') | nodesByType('dateTime')", method: 'redact' }], {
      enablePartialDatesForRedact: true,
    });
    expect(out.birthDate).toBe('1980');
    expect(out).not.toHaveProperty('deceasedDateTime');
    expect(labelCodes(out)).toEqual(['REDACTED', 'ABSTRED']);
  });

  it.each([
    [89, 89],
    [90, undefined],
  ])('given partial ages and an age of %i, then the value is %p', (age, kept) => {
    const resource = {
      ...patient,
      extension: [{ url: 'http://example.org/age', valueAge: { value: age, unit: 'a' } }],
    };
    const out = deid(resource, [{ path: "nodesByType('Age')", method: 'redact' }], {
      enablePartialAgesForRedact: true,
    });
    const extension = out.extension as { valueAge?: { value?: number } }[] | undefined;
    expect(extension?.[0]?.valueAge?.value).toBe(kept);
  });
});

describe('cryptoHash', () => {
  it.each([
    ['Patient/abc', `Patient/${hash('abc')}`],
    ['#contained-1', `#${hash('contained-1')}`],
    [
      'https://fhir.example.org/r4/Patient/abc/_history/3',
      `https://fhir.example.org/r4/Patient/${hash('abc')}/_history/3`,
    ],
    [
      'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0',
      `urn:uuid:${hash('0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0')}`,
    ],
    ['urn:oid:1.2.3.4', `urn:oid:${hash('1.2.3.4')}`],
    ['not a reference', hash('not a reference')],
    ['Unknown/abc', hash('Unknown/abc')],
  ])('given the reference %s, then only its id part is hashed', (reference, expected) => {
    const out = deid({ resourceType: 'Observation', subject: { reference } }, [
      { path: "nodesByType('Reference').reference", method: 'cryptoHash' },
    ]);
    expect(out.subject).toEqual({ reference: expected });
    expect(labelCodes(out)).toEqual(['CRYTOHASH']);
  });

  it('given an identifier value outside a reference, then the whole value is hashed as HMAC-SHA256 hex', () => {
    const out = deid({ resourceType: 'Patient', identifier: [{ value: 'Patient/123' }] }, [
      { path: 'Patient.identifier.value', method: 'cryptoHash' },
    ]);
    expect(out.identifier).toEqual([{ value: hash('Patient/123') }]);
  });
});

describe('encrypt', () => {
  const resource = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Doe', given: ['Jane', 'Jane'] }] };
  const rules = [{ path: 'Patient.name', method: 'encrypt' }];

  function decrypt(text: string): string {
    const bytes = Buffer.from(text, 'base64');
    const decipher = createDecipheriv('aes-128-cbc', Buffer.from(KEYS.encryptKey), bytes.subarray(0, 16));
    return Buffer.concat([decipher.update(bytes.subarray(16)), decipher.final()]).toString('utf8');
  }

  it('given a name, then each part decrypts to its value with the key and the IV in front', () => {
    const out = deid(resource, rules);
    const [name] = out.name as { family: string; given: string[] }[];
    expect(decrypt(name.family)).toBe('Doe');
    expect(name.given.map(decrypt)).toEqual(['Jane', 'Jane']);
    expect(name.given[0]).not.toBe(name.given[1]);
    expect(labelCodes(out)).toEqual(['MASKED']);
  });

  it('given the same resource and seed twice, then the bytes are the same; another seed differs', () => {
    expect(JSON.stringify(deid(resource, rules))).toBe(JSON.stringify(deid(resource, rules)));
    expect(JSON.stringify(deid(resource, rules, {}, {}, 'job-2'))).not.toBe(
      JSON.stringify(deid(resource, rules)),
    );
  });
});

describe('dateShift', () => {
  const rules = [
    { path: "nodesByType('date') | nodesByType('dateTime') | nodesByType('instant')", method: 'dateShift' },
  ];

  it('given dates of several precisions, then each moves by the offset of id and key, keeping zones', () => {
    const offset = expectedOffset('enc-1', KEYS.dateShiftKey);
    const encounter = {
      resourceType: 'Encounter',
      id: 'enc-1',
      period: { start: '2021-03-01T10:30:00+02:00', end: '2021-03-02T08:00:00Z' },
      meta: { lastUpdated: '2021-03-04T05:06:07.123Z' },
    };
    const out = deid(encounter, rules);
    expect(out.period).toEqual({
      start: `${addDays('2021-03-01', offset)}T00:00:00+02:00`,
      end: `${addDays('2021-03-02', offset)}T00:00:00Z`,
    });
    expect((out.meta as Json).lastUpdated).toBe(`${addDays('2021-03-04', offset)}T00:00:00Z`);
    expect(labelCodes(out)).toEqual(['PERTURBED']);
  });

  it('given known ids and keys, then the offsets stay within [-50, 50] and match the formula', () => {
    for (const id of ['a', 'patient-123', 'é']) {
      const offset = expectedOffset(id, 'key');
      const out = deid({ resourceType: 'Patient', id, birthDate: '2000-06-15' }, rules, {
        dateShiftKey: 'key',
      });
      expect(out.birthDate).toBe(addDays('2000-06-15', offset));
      expect(Math.abs(offset)).toBeLessThanOrEqual(50);
    }
  });

  it('given a year or a year and month, or an age over 89, then the value is redacted', () => {
    const patient = { resourceType: 'Patient', id: 'p', birthDate: '1980', deceasedDateTime: '2020-05' };
    const out = deid(patient, rules);
    expect(out).not.toHaveProperty('birthDate');
    expect(out).not.toHaveProperty('deceasedDateTime');
    const old = deid({ resourceType: 'Patient', id: 'p', birthDate: `${thisYear - 91}-01-01` }, rules);
    expect(old).not.toHaveProperty('birthDate');
  });

  it('given a fixed offset, then it replaces the computed one', () => {
    const out = deid({ resourceType: 'Patient', id: 'p', birthDate: '2000-12-30' }, rules, {
      dateShiftFixedOffsetInDays: 3,
    });
    expect(out.birthDate).toBe('2001-01-02');
  });

  it('given an earlier rule that hashed the id, then the hashed id prefixes the key', () => {
    const patient = { resourceType: 'Patient', id: 'p', birthDate: '2000-06-15' };
    const out = deid(patient, [{ path: 'Resource.id', method: 'cryptoHash' }, ...rules]);
    expect(out.birthDate).toBe(addDays('2000-06-15', expectedOffset(hash('p'), KEYS.dateShiftKey)));
  });

  it('given a contained resource, then it shifts by the offset of the root id', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'root',
      contained: [{ resourceType: 'Patient', id: 'c', birthDate: '2000-06-15' }],
    };
    const out = deid(patient, rules);
    const [contained] = out.contained as Json[];
    expect(contained.birthDate).toBe(addDays('2000-06-15', expectedOffset('root', KEYS.dateShiftKey)));
  });
});

describe('perturb', () => {
  const observation = {
    resourceType: 'Observation',
    id: 'o1',
    valueQuantity: { value: 100, unit: 'mg' },
    component: [{ valueInteger: 10 }],
  };

  it('given a fixed span, then the value moves at most span/2 and is rounded to roundTo', () => {
    const out = deid(observation, [{ path: 'Observation.value', method: 'perturb', span: 4, roundTo: 1 }]);
    const value = (out.valueQuantity as { value: number }).value;
    expect(Math.abs(value - 100)).toBeLessThanOrEqual(2);
    expect(Number(value.toFixed(1))).toBe(value);
    expect(labelCodes(out)).toEqual(['PERTURBED']);
  });

  it('given a proportional span, then the noise scales with the value', () => {
    const out = deid(observation, [
      { path: 'Observation.value', method: 'perturb', span: 0.1, rangeType: 'proportional' },
    ]);
    expect(Math.abs((out.valueQuantity as { value: number }).value - 100)).toBeLessThanOrEqual(5);
  });

  it('given an integer, then it stays a whole number', () => {
    const out = deid(observation, [{ path: 'Observation.component.value', method: 'perturb', span: 6 }]);
    expect(Number.isInteger((out.component as { valueInteger: number }[])[0].valueInteger)).toBe(true);
  });

  it('given a positiveInt and an unsignedInt near zero, then they stay at least 1 and 0', () => {
    const plan = {
      resourceType: 'ImmunizationRecommendation',
      recommendation: [{ doseNumberPositiveInt: 1 }],
    };
    for (let seed = 0; seed < 10; seed++) {
      const out = deid(
        plan,
        [{ path: "nodesByType('positiveInt')", method: 'perturb', span: 10 }],
        {},
        {},
        `s${seed}`,
      );
      expect(
        (out.recommendation as { doseNumberPositiveInt: number }[])[0].doseNumberPositiveInt,
      ).toBeGreaterThanOrEqual(1);
    }
    const patient = { resourceType: 'Patient', photo: [{ size: 0 }] };
    for (let seed = 0; seed < 10; seed++) {
      const out = deid(
        patient,
        [{ path: "nodesByType('unsignedInt')", method: 'perturb', span: 10 }],
        {},
        {},
        `s${seed}`,
      );
      expect((out.photo as { size: number }[])[0].size).toBeGreaterThanOrEqual(0);
    }
  });

  it('given the same resource and seed, then the noise is the same; another resource id differs', () => {
    const rules = [{ path: 'Observation.value', method: 'perturb', span: 50 }];
    expect(deid(observation, rules)).toEqual(deid(observation, rules));
    expect(deid(observation, rules).valueQuantity).not.toEqual(
      deid({ ...observation, id: 'o2' }, rules).valueQuantity,
    );
  });
});

describe('substitute', () => {
  it('given a primitive, then it takes the string', () => {
    const out = deid({ resourceType: 'Patient', gender: 'female' }, [
      { path: 'Patient.gender', method: 'substitute', replaceWith: 'unknown' },
    ]);
    expect(out.gender).toBe('unknown');
    expect(labelCodes(out)).toEqual(['SUBSTITUTED']);
  });

  it('given a complex node with a descendant hashed earlier, then the object replaces it but the hash stays', () => {
    const patient = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:ssn', value: '123-45-6789', use: 'official' }],
    };
    const out = deid(patient, [
      { path: 'Patient.identifier.value', method: 'cryptoHash' },
      { path: 'Patient.identifier', method: 'substitute', replaceWith: { system: 'urn:masked', value: 'x' } },
    ]);
    expect(out.identifier).toEqual([{ system: 'urn:masked', value: hash('123-45-6789') }]);
    expect(labelCodes(out)).toEqual(['CRYTOHASH', 'SUBSTITUTED']);
  });
});

describe('generalize', () => {
  const cases = {
    '$this < @1950-01-01': "'1900'",
    '$this >= @1950-01-01 and $this < @2000-01-01': "'1950'",
  };

  it.each([
    ['1940-03-04', '1900'],
    ['1975-03-04', '1950'],
  ])('given %s, then the first true case gives %s', (birthDate, expected) => {
    const out = deid({ resourceType: 'Patient', birthDate }, [
      { path: 'Patient.birthDate', method: 'generalize', cases },
    ]);
    expect(out.birthDate).toBe(expected);
    expect(labelCodes(out)).toEqual(['GENERALIZED']);
  });

  it('given no true case, then the value is redacted by default and kept with otherValues keep', () => {
    const patient = { resourceType: 'Patient', birthDate: '2010-01-01' };
    expect(deid(patient, [{ path: 'Patient.birthDate', method: 'generalize', cases }])).not.toHaveProperty(
      'birthDate',
    );
    const kept = deid(patient, [
      { path: 'Patient.birthDate', method: 'generalize', cases, otherValues: 'keep' },
    ]);
    expect(kept.birthDate).toBe('2010-01-01');
  });

  it('given numeric cases, then a value expression computes the range', () => {
    const observation = { resourceType: 'Observation', valueQuantity: { value: 37 } };
    const out = deid(observation, [
      {
        path: 'Observation.value.value',
        method: 'generalize',
        cases: { '$this >= 30 and $this < 40': '30' },
      },
    ]);
    expect(out.valueQuantity).toEqual({ value: 30 });
  });
});
