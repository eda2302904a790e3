/**
 * Settings of the FHIR REST source, read by `readFhirSourceConfig` (src/sources/fhirSourceConfig.ts)
 * when `SOURCE_KIND` is `fhir`.
 */
import type { SourceAuthMode } from '../sources/sourceAuth';
import { choice, integer, list, secret, text, url } from './setting';

export const FHIR_SOURCE = {
  url: url({
    name: 'FHIR_SOURCE_URL',
    required: true,
    meaning:
      'Base URL of the FHIR R4 server, e.g. `https://fhir.example.org/r4`, without query or credentials.',
  }),
  auth: choice<SourceAuthMode>({
    name: 'FHIR_SOURCE_AUTH',
    values: ['none', 'bearer', 'client-credentials', 'managed-identity'],
    default: 'none',
    meaning: 'How the app signs in to the source (`docs/fhir-rest-source.md`, "Auth modes").',
  }),
  token: secret({
    name: 'FHIR_SOURCE_TOKEN',
    required: true,
    when: { FHIR_SOURCE_AUTH: ['bearer'] },
    meaning: 'Static token sent as `Authorization: Bearer` on every request.',
  }),
  tokenUrl: url({
    name: 'FHIR_SOURCE_TOKEN_URL',
    required: true,
    when: { FHIR_SOURCE_AUTH: ['client-credentials'] },
    meaning: 'OAuth 2.0 token endpoint.',
  }),
  clientId: text({
    name: 'FHIR_SOURCE_CLIENT_ID',
    when: { FHIR_SOURCE_AUTH: ['client-credentials', 'managed-identity'] },
    meaning:
      'OAuth 2.0 client id, required for `client-credentials`; for `managed-identity` the client id of a user-assigned identity, else `AZURE_CLIENT_ID`.',
  }),
  clientSecret: secret({
    name: 'FHIR_SOURCE_CLIENT_SECRET',
    required: true,
    when: { FHIR_SOURCE_AUTH: ['client-credentials'] },
    meaning: 'OAuth 2.0 client secret.',
  }),
  scope: text({
    name: 'FHIR_SOURCE_SCOPE',
    when: { FHIR_SOURCE_AUTH: ['client-credentials', 'managed-identity'] },
    meaning:
      '`scope` asked of the token endpoint (none by default); for `managed-identity` the token scope, by default `{origin of FHIR_SOURCE_URL}/.default`.',
  }),
  timeoutMs: integer({
    name: 'FHIR_SOURCE_TIMEOUT_MS',
    default: 30_000,
    min: 1,
    meaning: 'Limit for one request to the source, headers and body together.',
  }),
  maxPageBytes: integer({
    name: 'FHIR_SOURCE_MAX_PAGE_BYTES',
    default: 16 * 1024 * 1024,
    min: 1,
    bytes: true,
    meaning: 'Largest response body held in memory; a bigger page is fetched again with half the `_count`.',
  }),
  defaultTypes: list({
    name: 'FHIR_SOURCE_DEFAULT_TYPES',
    meaning:
      'The types the source supports, instead of those its CapabilityStatement lists with type-level search (a job fails when that cannot be read): a system export without `_type` exports them, and `_type` and `_typeFilter` may name only them.',
  }),
  typesCacheSeconds: integer({
    name: 'FHIR_SOURCE_TYPES_CACHE_SECONDS',
    default: 300,
    min: 0,
    max: 86_400,
    meaning:
      'How long the kick-off reuses the types the source supports (its CapabilityStatement, or `FHIR_SOURCE_DEFAULT_TYPES`) to check `_type` and `_typeFilter`; `0` reads them at every kick-off. A job reads them anew when it starts.',
  }),
  compartmentBatchSize: integer({
    name: 'FHIR_SOURCE_COMPARTMENT_BATCH',
    default: 50,
    min: 1,
    meaning: 'Patient references per compartment query (Patient and Group exports).',
  }),
};
