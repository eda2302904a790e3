import { parseRetryAfter } from '../../../src/sources/responseText';
import { outcomeText, sanitizeMessage } from '../../../src/sources/responseText';
import { readFhirSourceConfig } from '../../../src/sources/fhirSourceConfig';

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it.each([
    ['0', 0],
    ['7', 7],
    [' 120 ', 120],
    ['Wed, 01 May 2024 12:00:30 GMT', 30],
    ['Wed, 01 May 2024 11:59:00 GMT', 0],
  ])('%p → %p seconds', (value, seconds) => {
    expect(parseRetryAfter(value, now)).toBe(seconds);
  });

  it.each([null, undefined, '', '-5', '1.5', 'soon'])('%p → undefined', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('source messages', () => {
  it('takes diagnostics, else details.text, of every issue', () => {
    expect(
      outcomeText({
        resourceType: 'OperationOutcome',
        issue: [{ diagnostics: 'first' }, { details: { text: 'second' } }, { code: 'x' }],
      }),
    ).toBe('first; second');
    expect(outcomeText({ resourceType: 'Bundle' })).toBeUndefined();
  });

  it('redacts credentials and truncates', () => {
    expect(sanitizeMessage('got Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig here')).toBe(
      'got Authorization: Bearer [redacted] here',
    );
    expect(sanitizeMessage('url ?client_secret=abc&x=1')).toBe('url ?client_secret=[redacted]&x=1');
    expect(sanitizeMessage('x'.repeat(500))).toHaveLength(300);
  });
});

describe('readFhirSourceConfig', () => {
  const base = { FHIR_SOURCE_URL: 'https://fhir.example.org/r4/' };

  it('defaults to no auth, 30 s, 16 MiB, types kept 300 s', () => {
    expect(readFhirSourceConfig(base)).toEqual({
      baseUrl: 'https://fhir.example.org/r4',
      auth: { mode: 'none' },
      timeoutMs: 30_000,
      maxPageBytes: 16 * 1024 * 1024,
      defaultTypes: [],
      compartmentBatchSize: 50,
      typesCacheSeconds: 300,
    });
  });

  it('reads every auth mode', () => {
    expect(
      readFhirSourceConfig({ ...base, FHIR_SOURCE_AUTH: 'bearer', FHIR_SOURCE_TOKEN: 't' }).auth,
    ).toEqual({
      mode: 'bearer',
      token: 't',
    });
    expect(
      readFhirSourceConfig({
        ...base,
        FHIR_SOURCE_AUTH: 'client-credentials',
        FHIR_SOURCE_TOKEN_URL: 'https://login.example.org/token',
        FHIR_SOURCE_CLIENT_ID: 'id',
        FHIR_SOURCE_CLIENT_SECRET: 'secret',
        FHIR_SOURCE_SCOPE: 'system/*.read',
      }).auth,
    ).toEqual({
      mode: 'client-credentials',
      tokenUrl: 'https://login.example.org/token',
      clientId: 'id',
      clientSecret: 'secret',
      scope: 'system/*.read',
    });
    expect(
      readFhirSourceConfig({ ...base, FHIR_SOURCE_AUTH: 'managed-identity', AZURE_CLIENT_ID: 'uami' }).auth,
    ).toEqual({
      mode: 'managed-identity',
      clientId: 'uami',
    });
  });

  it.each([
    [{}, /FHIR_SOURCE_URL/],
    [{ FHIR_SOURCE_URL: 'ftp://x' }, /FHIR_SOURCE_URL/],
    [{ ...base, FHIR_SOURCE_AUTH: 'basic' }, /FHIR_SOURCE_AUTH/],
    [{ ...base, FHIR_SOURCE_AUTH: 'bearer' }, /FHIR_SOURCE_TOKEN/],
    [
      { ...base, FHIR_SOURCE_AUTH: 'client-credentials', FHIR_SOURCE_TOKEN_URL: 'https://t' },
      /FHIR_SOURCE_CLIENT_ID/,
    ],
    [{ ...base, FHIR_SOURCE_TIMEOUT_MS: '0' }, /FHIR_SOURCE_TIMEOUT_MS/],
    [{ ...base, FHIR_SOURCE_MAX_PAGE_BYTES: 'lots' }, /FHIR_SOURCE_MAX_PAGE_BYTES/],
    [{ ...base, FHIR_SOURCE_DEFAULT_TYPES: 'Patient,bad type' }, /FHIR_SOURCE_DEFAULT_TYPES/],
    [{ ...base, FHIR_SOURCE_TYPES_CACHE_SECONDS: '-1' }, /FHIR_SOURCE_TYPES_CACHE_SECONDS/],
  ])('names the bad setting in %p', (env, pattern) => {
    expect(() => readFhirSourceConfig(env as Record<string, string>)).toThrow(pattern);
  });

  it('never echoes a secret', () => {
    expect(() =>
      readFhirSourceConfig({
        ...base,
        FHIR_SOURCE_AUTH: 'client-credentials',
        FHIR_SOURCE_TOKEN_URL: 'nope',
        FHIR_SOURCE_CLIENT_SECRET: 'S3CRET',
      }),
    ).toThrow(/^((?!S3CRET).)*$/);
  });
});
