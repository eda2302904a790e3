/** Configuration of the FHIR REST source, and its reader from environment variables. */
import type { SourceAuthConfig, SourceAuthMode } from './sourceAuth';
import { DEFAULT_COMPARTMENT_BATCH } from './fhirSearchPlan';

export interface FhirSourceConfig {
  /** Base URL of the FHIR R4 server, e.g. `https://fhir.example.org/r4` (no trailing slash needed). */
  baseUrl: string;
  auth: SourceAuthConfig;
  /** Milliseconds for one request to the source, body included. Default 30 000. */
  timeoutMs: number;
  /** Largest response body held in memory; a bigger page is fetched again with half the `_count`. Default 16 MiB. */
  maxPageBytes: number;
  /** Resource types for a system export when the server's CapabilityStatement is unavailable. */
  defaultTypes: string[];
  /** Patient references per compartment query. Default 50. */
  compartmentBatchSize: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_PAGE_BYTES = 16 * 1024 * 1024;

const AUTH_MODES: readonly SourceAuthMode[] = ['none', 'bearer', 'client-credentials', 'managed-identity'];

/** Fills the defaults of a partial configuration (only `baseUrl` is required). */
export function fhirSourceConfig(config: Partial<FhirSourceConfig> & { baseUrl: string }): FhirSourceConfig {
  return {
    baseUrl: checkHttpUrl(config.baseUrl, 'baseUrl').replace(/\/+$/, ''),
    auth: config.auth ?? { mode: 'none' },
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxPageBytes: config.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES,
    defaultTypes: config.defaultTypes ?? [],
    compartmentBatchSize: config.compartmentBatchSize ?? DEFAULT_COMPARTMENT_BATCH,
  };
}

/**
 * Reads the source configuration from environment variables:
 * `FHIR_SOURCE_URL` (required), `FHIR_SOURCE_AUTH` (`none` | `bearer` | `client-credentials` |
 * `managed-identity`, default `none`), `FHIR_SOURCE_TOKEN`, `FHIR_SOURCE_TOKEN_URL`,
 * `FHIR_SOURCE_CLIENT_ID`, `FHIR_SOURCE_CLIENT_SECRET`, `FHIR_SOURCE_SCOPE`,
 * `FHIR_SOURCE_TIMEOUT_MS`, `FHIR_SOURCE_MAX_PAGE_BYTES`, `FHIR_SOURCE_DEFAULT_TYPES` (comma list),
 * `FHIR_SOURCE_COMPARTMENT_BATCH`. Throws an Error naming the first bad setting (never its value
 * when it is a secret).
 */
export function readFhirSourceConfig(env: Record<string, string | undefined>): FhirSourceConfig {
  const get = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const required = (name: string, mode: string) => {
    const value = get(name);
    if (value === undefined) throw new Error(`${name} is required when FHIR_SOURCE_AUTH is ${mode}`);
    return value;
  };
  const baseUrl = get('FHIR_SOURCE_URL');
  if (baseUrl === undefined)
    throw new Error('FHIR_SOURCE_URL is required (the base URL of the FHIR R4 source)');
  checkHttpUrl(baseUrl, 'FHIR_SOURCE_URL');

  const mode = (get('FHIR_SOURCE_AUTH') ?? 'none') as SourceAuthMode;
  if (!AUTH_MODES.includes(mode)) {
    throw new Error(`FHIR_SOURCE_AUTH must be one of ${AUTH_MODES.join(', ')} (got "${mode}")`);
  }
  let auth: SourceAuthConfig;
  switch (mode) {
    case 'none':
      auth = { mode };
      break;
    case 'bearer':
      auth = { mode, token: required('FHIR_SOURCE_TOKEN', mode) };
      break;
    case 'client-credentials': {
      const tokenUrl = checkHttpUrl(required('FHIR_SOURCE_TOKEN_URL', mode), 'FHIR_SOURCE_TOKEN_URL');
      const scope = get('FHIR_SOURCE_SCOPE');
      auth = {
        mode,
        tokenUrl,
        clientId: required('FHIR_SOURCE_CLIENT_ID', mode),
        clientSecret: required('FHIR_SOURCE_CLIENT_SECRET', mode),
        ...(scope ? { scope } : {}),
      };
      break;
    }
    case 'managed-identity': {
      const clientId = get('FHIR_SOURCE_CLIENT_ID') ?? get('AZURE_CLIENT_ID');
      const scope = get('FHIR_SOURCE_SCOPE');
      auth = { mode, ...(clientId ? { clientId } : {}), ...(scope ? { scope } : {}) };
      break;
    }
  }
  const defaultTypes = (get('FHIR_SOURCE_DEFAULT_TYPES') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const type of defaultTypes) {
    if (!/^[A-Z][A-Za-z]{1,63}$/.test(type))
      throw new Error(`FHIR_SOURCE_DEFAULT_TYPES has an invalid type "${type}"`);
  }
  return fhirSourceConfig({
    baseUrl,
    auth,
    timeoutMs: positiveInt(get('FHIR_SOURCE_TIMEOUT_MS'), 'FHIR_SOURCE_TIMEOUT_MS', DEFAULT_TIMEOUT_MS),
    maxPageBytes: positiveInt(
      get('FHIR_SOURCE_MAX_PAGE_BYTES'),
      'FHIR_SOURCE_MAX_PAGE_BYTES',
      DEFAULT_MAX_PAGE_BYTES,
    ),
    defaultTypes,
    compartmentBatchSize: positiveInt(
      get('FHIR_SOURCE_COMPARTMENT_BATCH'),
      'FHIR_SOURCE_COMPARTMENT_BATCH',
      DEFAULT_COMPARTMENT_BATCH,
    ),
  });
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new Error(`${name} must be a positive integer (got "${value}")`);
  }
  return Number(value);
}

function checkHttpUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`${name} must be an http(s) URL`);
  if (url.search !== '' || url.hash !== '') throw new Error(`${name} must not have a query or fragment`);
  if (url.username !== '' || url.password !== '') throw new Error(`${name} must not contain credentials`);
  return value;
}
