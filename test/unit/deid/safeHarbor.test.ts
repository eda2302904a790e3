import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { deidEngine } from '../../../src/deid';
import { KEYS, type Json } from './helpers';

const configText = readFileSync(
  path.join(__dirname, '..', '..', 'fixtures', 'deid', 'safe-harbor.json'),
  'utf8',
);

const patient: Json = {
  resourceType: 'Patient',
  id: 'pat-8812',
  meta: { lastUpdated: '2024-02-03T04:05:06Z' },
  text: {
    status: 'generated',
    div: '<div xmlns="http://www.w3.org/1999/xhtml">Jane Q. Doe, SSN 123-45-6789</div>',
  },
  identifier: [
    { system: 'http://hl7.org/fhir/sid/us-ssn', value: '123-45-6789' },
    {
      system: 'http://hospital.example.org/mrn',
      value: 'MRN-000777',
      assigner: { display: 'General Hospital' },
    },
  ],
  name: [{ use: 'official', family: 'Doe', given: ['Jane', 'Quinn'] }],
  telecom: [
    { system: 'phone', value: '+1-555-867-5309' },
    { system: 'fax', value: '+1-555-867-5310' },
    { system: 'email', value: 'jane.doe@example.com' },
    { system: 'url', value: 'https://janedoe.example.com' },
  ],
  gender: 'female',
  birthDate: '1971-08-14',
  address: [
    {
      line: ['42 Elm Street', 'Apt 7'],
      city: 'Springfield',
      district: 'Greene',
      state: 'MO',
      postalCode: '65804',
      country: 'US',
    },
    { line: ['9 Border Road'], city: 'Hanover', state: 'NH', postalCode: '03640' },
  ],
  photo: [{ contentType: 'image/png', data: 'aGVsbG8gcGhvdG8=', url: 'https://photos.example.com/jane.png' }],
  contact: [
    { name: { family: 'Doe', given: ['John'] }, telecom: [{ system: 'phone', value: '+1-555-000-1111' }] },
  ],
  generalPractitioner: [{ reference: 'Practitioner/dr-who-42', display: 'Dr. Gregory House' }],
  extension: [
    { url: 'http://example.org/fhir/StructureDefinition/mothers-maiden-name', valueString: 'Smithers' },
  ],
};

const observation: Json = {
  resourceType: 'Observation',
  id: 'obs-5531',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '30525-0', display: 'Age' }] },
  subject: { reference: 'Patient/pat-8812', display: 'Jane Doe' },
  effectiveDateTime: '2023-11-20T09:15:00-05:00',
  issued: '2023-11-20T10:00:00.000-05:00',
  valueQuantity: { value: 93, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' },
  note: [{ authorString: 'Nurse Ratched', text: 'Patient Jane mentioned her neighbour Bob.' }],
  performer: [{ reference: 'urn:uuid:6f1c2b8e-1b7e-4b0e-9f3b-8a4d1f7c2e11' }],
};

const encounter: Json = {
  resourceType: 'Encounter',
  id: 'enc-2207',
  status: 'finished',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  identifier: [{ system: 'http://hospital.example.org/visits', value: 'V-2023-11-20-0042' }],
  subject: { reference: 'https://fhir.example.org/r4/Patient/pat-8812' },
  period: { start: '2023-11-20T08:55:00-05:00', end: '2023-11-20T10:30:00-05:00' },
  length: { value: 95, unit: 'min' },
  location: [{ location: { reference: 'Location/loc-ward-9', display: 'Ward 9, Room 12' } }],
  contained: [
    {
      resourceType: 'Location',
      id: 'room',
      address: { line: ['1 Hospital Way'], city: 'Springfield', postalCode: '65804' },
    },
  ],
};

/** Every identifier in the three resources; none may appear in the output. */
const IDENTIFIERS = [
  'pat-8812',
  'obs-5531',
  'enc-2207',
  'Jane',
  'Quinn',
  'Doe',
  'John',
  '123-45-6789',
  'MRN-000777',
  'General Hospital',
  '555-867-5309',
  '555-867-5310',
  'jane.doe@example.com',
  'janedoe.example.com',
  'Elm Street',
  'Springfield',
  'Greene',
  '65804',
  '03640',
  'Hanover',
  'Border Road',
  '1971-08-14',
  'aGVsbG8gcGhvdG8=',
  'photos.example.com',
  '555-000-1111',
  'dr-who-42',
  'Gregory House',
  'Smithers',
  'Nurse Ratched',
  'Bob',
  '6f1c2b8e-1b7e-4b0e-9f3b-8a4d1f7c2e11',
  'V-2023-11-20-0042',
  'loc-ward-9',
  'Ward 9',
  'Hospital Way',
  '2023-11-20',
  '2024-02-03',
];

describe('the Safe Harbor configuration', () => {
  const config = deidEngine.compile(configText);
  const deidentifier = deidEngine.deidentifier(config, KEYS, 'job-safe-harbor');
  const outputs = [patient, observation, encounter].map(
    (resource) => deidentifier.deidentify(structuredClone(resource)).resource,
  );

  it('given the fixture, then it compiles and asks the job for the hash and date-shift keys', () => {
    expect(config.missingKeys).toEqual(['cryptoHashKey', 'dateShiftKey']);
  });

  it.each(IDENTIFIERS)('given realistic resources, then %s survives nowhere', (identifier) => {
    expect(JSON.stringify(outputs)).not.toContain(identifier);
  });

  it('given a patient, then the year of birth, the state, the 3-digit zip and the coded data stay', () => {
    const [out] = outputs;
    expect(out.birthDate).toBe('1971');
    expect(out.gender).toBe('female');
    expect(out.address).toEqual([
      { state: 'MO', postalCode: '65800', country: 'US' },
      { state: 'NH', postalCode: '00000' },
    ]);
    expect(out).not.toHaveProperty('telecom');
    expect(out).not.toHaveProperty('photo');
    expect(out).not.toHaveProperty('text');
  });

  it('given an observation of an age over 89, then the age is removed but the code stays', () => {
    const [, out] = outputs;
    expect(out).not.toHaveProperty('valueQuantity.value');
    expect(out.code).toEqual(observation.code);
  });

  it('given an encounter, then its dates move together, keeping the length of the stay', () => {
    const out = outputs[2] as { period: { start: string; end: string }; length: unknown };
    expect(out.period.start.slice(0, 10)).toBe(out.period.end.slice(0, 10));
    expect(out.length).toEqual(encounter.length);
  });
});
