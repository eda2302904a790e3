import { ForbiddenError } from '../../../src/auth/errors';
import {
  allowedTypes,
  assertCanExport,
  parseSmartScope,
  scopesFromClaims,
} from '../../../src/auth/smartScopes';

const ALL = ['Patient', 'Observation', 'Encounter', 'Condition'];

function forbidden(fn: () => void): ForbiddenError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ForbiddenError);
    return e as ForbiddenError;
  }
  throw new Error('expected a ForbiddenError');
}

describe('parseSmartScope', () => {
  test.each([
    [
      'system/Patient.read',
      { context: 'system', resourceType: 'Patient', version: 1, read: true, search: true, write: false },
    ],
    [
      'system/*.*',
      { context: 'system', resourceType: '*', version: 1, read: true, search: true, write: true },
    ],
    ['system/Observation.write', { version: 1, read: false, search: false, write: true }],
    ['system/*.rs', { resourceType: '*', version: 2, read: true, search: true, write: false }],
    ['system/Patient.r', { version: 2, read: true, search: false }],
    ['user/Patient.cruds', { context: 'user', version: 2, read: true, search: true, write: true }],
    [
      'system/Observation.rs?category=laboratory',
      { version: 2, read: true, search: true, query: 'category=laboratory' },
    ],
  ])('%s', (raw, expected) => {
    expect(parseSmartScope(raw)).toMatchObject({ raw, ...expected });
  });

  test.each([
    'openid',
    'launch/patient',
    'system/Patient',
    'system/Patient.',
    'system/Patient.sr', // v2 letters out of order
    'system/Patient.rr',
    'system/patient.read', // type names start upper-case
    'system/Patient.read?x=1', // v1 has no query form
    'group/Patient.read',
    'system/Patient.read ',
    'fhirUser',
  ])('ignores %s', (raw) => {
    expect(parseSmartScope(raw)).toBeUndefined();
  });
});

describe('scopesFromClaims', () => {
  test('collects scope (string), scp (string or array) and roles (array), without duplicates', () => {
    expect(
      scopesFromClaims({
        scope: 'system/Patient.read  system/Observation.rs',
        scp: ['system/Patient.read', 'openid'],
        roles: ['system/*.read'],
      }),
    ).toEqual(['system/Patient.read', 'system/Observation.rs', 'openid', 'system/*.read']);
    expect(scopesFromClaims({ scp: 'a b' })).toEqual(['a', 'b']);
    expect(scopesFromClaims({ scope: 42, roles: [1, 'system/*.rs'] })).toEqual(['system/*.rs']);
    expect(scopesFromClaims({})).toEqual([]);
  });
});

describe('allowedTypes', () => {
  test('v1 and v2 wildcards allow every type', () => {
    expect(allowedTypes(['system/*.read'])).toBe('*');
    expect(allowedTypes(['system/*.*'])).toBe('*');
    expect(allowedTypes(['system/*.rs'])).toBe('*');
    expect(allowedTypes(['system/*.cruds'])).toBe('*');
  });

  test('per-type scopes allow those types', () => {
    expect(allowedTypes(['system/Patient.read', 'system/Observation.rs', 'system/Encounter.*'])).toEqual(
      new Set(['Patient', 'Observation', 'Encounter']),
    );
  });

  test('write-only, read-without-search, restricted and non-system scopes allow nothing', () => {
    expect(
      allowedTypes([
        'system/Observation.write',
        'system/*.write',
        'system/Patient.r',
        'system/*.s',
        'system/Observation.rs?category=laboratory',
        'system/*.rs?_security=R',
        'user/*.read',
        'patient/*.rs',
        'openid',
      ]),
    ).toEqual(new Set());
  });
});

describe('assertCanExport', () => {
  test('wildcard passes for any request', () => {
    expect(() => assertCanExport(['system/*.read'], ALL)).not.toThrow();
    expect(() => assertCanExport(['system/*.rs'], ['Whatever'])).not.toThrow();
  });

  test('requested types covered by per-type scopes pass', () => {
    expect(() =>
      assertCanExport(['system/Patient.read', 'system/Observation.rs'], ['Observation', 'Patient']),
    ).not.toThrow();
  });

  test('a missing scope is a 403 naming exactly the types not allowed', () => {
    const error = forbidden(() =>
      assertCanExport(['system/Patient.read'], ['Patient', 'Observation', 'Encounter']),
    );
    expect(error.statusCode).toBe(403);
    expect(error.message).toContain('Observation, Encounter');
    expect(error.message).not.toContain('Patient,');
    expect(error.wwwAuthenticate).toBe(
      'Bearer realm="fhir-export", error="insufficient_scope", error_description="' +
        error.message +
        '", scope="system/Observation.rs system/Encounter.rs"',
    );
  });

  test('every type the export covers must be allowed (all of them without _type)', () => {
    const error = forbidden(() => assertCanExport(['system/Patient.read', 'system/Encounter.rs'], ALL));
    expect(error.message).toContain('Observation, Condition');
  });

  test('user/ and patient/ scopes do not grant a system export', () => {
    const error = forbidden(() => assertCanExport(['user/*.read', 'patient/*.rs'], ['Patient']));
    expect(error.message).toMatch(/no system-level read scope/);
  });

  test('a v2 scope with a query does not grant the whole type', () => {
    const error = forbidden(() =>
      assertCanExport(['system/Patient.rs', 'system/Observation.rs?category=vital-signs'], ['Observation']),
    );
    expect(error.message).toContain('Observation');
  });

  test('long lists of missing types are shortened', () => {
    const many = Array.from({ length: 30 }, (_, i) => `Type${String.fromCharCode(65 + (i % 26))}${i}`);
    const error = forbidden(() => assertCanExport(['system/Patient.read'], many));
    expect(error.message).toContain('and 10 more');
  });
});
