/**
 * The app refuses to run with the FHIR REST source but no server to read from, the counterpart of
 * the template's fail() on useCosmosSource=false without fhirSourceUrl.
 */
import { loadConfig } from '../../src/config';
import type { Env } from '../../src/settings/setting';

const BASE: Env = {
  COSMOS_ENDPOINT: 'https://cosmos.example.org:443/',
  EXPORT_STORAGE_ACCOUNT_URL: 'https://exports.blob.core.windows.net',
  AUTH_MODE: 'none',
};

describe('SOURCE_KIND=fhir', () => {
  it.each([undefined, '', '   '])(
    'given FHIR_SOURCE_URL %p, then loading the configuration fails naming it',
    (url) => {
      expect(() => loadConfig({ ...BASE, SOURCE_KIND: 'fhir', FHIR_SOURCE_URL: url })).toThrow(
        /FHIR_SOURCE_URL is required/,
      );
    },
  );

  it('given a base URL, then the FHIR source is configured with it', () => {
    const config = loadConfig({
      ...BASE,
      SOURCE_KIND: 'fhir',
      FHIR_SOURCE_URL: 'https://fhir.example.org/r4/',
    });
    expect(config.fhirSource?.baseUrl).toBe('https://fhir.example.org/r4');
  });

  it('given SOURCE_KIND=cosmos, then no FHIR source URL is needed', () => {
    expect(loadConfig({ ...BASE, SOURCE_KIND: 'cosmos' }).fhirSource).toBeUndefined();
  });
});
