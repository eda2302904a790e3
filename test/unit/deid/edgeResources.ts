/**
 * Resources for comparing the direct rule paths with FHIRPath: the synthetic dataset, and shapes it
 * lacks (contained resources, a Bundle, primitives with extensions and ids, choices, odd JSON).
 */
import { generateDataset } from '../../../dev/demo/syntheticFhir';
import type { Json } from './helpers';

const EXT = (url: string, value: Json): Json => ({ url, ...value });

export const EDGE_RESOURCES: Json[] = [
  {
    resourceType: 'Patient',
    id: 'p1',
    meta: { lastUpdated: '2024-02-03T04:05:06Z', security: [{ system: 'http://x', code: 'Y' }] },
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jane</div>' },
    extension: [
      EXT('http://e/a', { valueString: 'maiden' }),
      EXT('http://e/b', {
        valueAge: { value: 93, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' },
      }),
      EXT('http://e/c', { extension: [EXT('http://e/d', { valueDateTime: '1931-02-03' })] }),
    ],
    identifier: [{ system: 'http://mrn', value: 'MRN-1', assigner: { reference: 'Organization/o1' } }],
    name: [
      {
        family: 'Doe',
        given: ['Jane', 'Q'],
        _given: [null, { id: 'g2', extension: [EXT('http://e/i', { valueCode: 'I' })] }],
      },
      {
        family: 'Roe',
        _family: { extension: [EXT('http://e/f', { valueString: 'x' })] },
        period: { start: '2001-05' },
      },
    ],
    telecom: [{ system: 'phone', value: '555', period: { end: '2020-01-01T10:00:00+02:00' } }],
    gender: 'female',
    birthDate: '1931-08-14',
    _birthDate: { extension: [EXT('http://e/t', { valueDateTime: '1931-08-14T10:00:00Z' })] },
    deceasedBoolean: false,
    multipleBirthInteger: 2,
    address: [
      { line: ['1 A St'], postalCode: '03640', state: 'NH', country: 'US', period: { start: '1999' } },
    ],
    photo: [{ contentType: 'image/png', size: 12, url: 'http://p/1' }],
    contact: [{ name: { family: 'Kin', given: ['K'] }, telecom: [{ value: '1' }], gender: 'male' }],
    generalPractitioner: [{ reference: 'Practitioner/dr', display: 'Dr' }, { reference: '#c1' }],
    contained: [
      { resourceType: 'Practitioner', id: 'c1', name: [{ family: 'House' }], birthDate: '1960-01-01' },
    ],
  },
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '30525-0' }], text: 'Age' },
    subject: { reference: 'urn:uuid:6f1c2b8e-1b7e-4b0e-9f3b-8a4d1f7c2e11' },
    effectivePeriod: { start: '2023-11-20T09:15:00-05:00', end: '2023-11-21' },
    issued: '2023-11-20T10:00:00.000-05:00',
    valueQuantity: { value: 93, unit: 'a', system: 'http://unitsofmeasure.org', code: 'a' },
    note: [{ authorString: 'Nurse', text: 'note', time: '2023-11-20' }],
    component: [
      { code: { text: 'a' }, valueString: 'free text' },
      { code: { text: 'b' }, valueQuantity: { value: 12.5, unit: 'mg' } },
      { code: { text: 'c' }, valueDateTime: '2023-01-02T03:04:05Z', valueBoolean: true },
    ],
  },
  {
    resourceType: 'Bundle',
    id: 'b1',
    type: 'collection',
    timestamp: '2024-01-01T00:00:00Z',
    entry: [
      { fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient', id: 'a', name: [{ family: 'Doe' }] } },
      {
        fullUrl: 'http://s/Observation/b',
        resource: {
          resourceType: 'Observation',
          id: 'b',
          subject: { reference: 'Patient/a' },
          valueString: 's',
        },
      },
    ],
  },
  {
    resourceType: 'Encounter',
    id: 'e1',
    period: { start: '2023-11-20T08:55:00-05:00' },
    length: { value: 95, unit: 'min' },
    location: [{ location: { reference: 'Location/l1', display: 'Ward' } }],
    contained: [{ resourceType: 'Location', id: 'l1', address: { city: 'X', postalCode: '12345' } }],
    extension: [
      EXT('http://e/n', {
        valueInteger: 5,
        _valueInteger: { extension: [EXT('http://e/m', { valueString: 'n' })] },
      }),
    ],
  },
  // A companion longer than its array: FHIRPath reads the extra positions as empty values.
  {
    resourceType: 'Patient',
    id: 'x4',
    name: [{ given: ['A'], _given: [{ extension: [] }, { id: 'late' }] }],
  },
  // Shapes the JSON walk declines, evaluated by FHIRPath either way.
  { resourceType: 'Patient', id: 'x1', _gender: { extension: [EXT('http://e/g', { valueCode: 'u' })] } },
  { resourceType: 'Patient', id: 'x2', gender: null, name: [{ given: [['nested']] }] },
  { resourceType: 'Observation', id: 'x3', value: { value: 1 }, valueString: 'both' },
  {
    resourceType: 'Patient',
    id: 'x4',
    name: [{ given: ['A'], _given: [{ extension: [] }, { id: 'late' }] }],
  },
];

/** A few hundred synthetic resources of every generated type, and the edge cases. */
export function comparisonResources(): Json[] {
  return [...(generateDataset({ patients: 12, seed: 7 }) as unknown as Iterable<Json>), ...EDGE_RESOURCES];
}
