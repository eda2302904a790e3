/** Configuration of the FHIR REST source, and its reader from environment variables. */
import { FHIR_SOURCE } from '../settings/fhirSourceSettings';
import { PLATFORM } from '../settings/hostSettings';
import { readInteger, type IntegerSetting } from '../settings/setting';
import type { SourceAuthConfig, SourceAuthMode } from './sourceAuth';
import { DEFAULT_COMPARTMENT_BATCH } from './fhirSearchPlan';

export interface FhirSourceConfig {
  /** Base URL of the FHIR R4 server, e.g. `https://fhir.example.org/r4` (no trailing slash needed). */
  baseUrl: string;
  auth: SourceAuthConfig;
  /** Milliseconds for one request to the source, body included. */
  timeoutMs: number;
  /** Largest response body held in memory; a bigger page is fetched again with half the `_count`. */
  maxPageBytes: number;
  /** The types the server supports, instead of its CapabilityStatement's (e.g. when that is unusable). */
  defaultTypes: string[];
  /** Patient references per compartment query. */
  compartmentBatchSize: number;
  /** Seconds the types the source supports are reused by kick-offs (`supportedTypes`); 0: never. */
  typesCacheSeconds: number;
}

export const DEFAULT_TIMEOUT_MS = FHIR_SOURCE.timeoutMs.default;
export const DEFAULT_MAX_PAGE_BYTES = FHIR_SOURCE.maxPageBytes.default;

/** Fills the defaults of a partial configuration (only `baseUrl` is required). */
export function fhirSourceConfig(config: Partial<FhirSourceConfig> & { baseUrl: string }): FhirSourceConfig {
  return {
    baseUrl: checkHttpUrl(config.baseUrl, 'baseUrl').replace(/\/+$/, ''),
    auth: config.auth ?? { mode: 'none' },
    timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxPageBytes: config.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES,
    defaultTypes: config.defaultTypes ?? [],
    compartmentBatchSize: config.compartmentBatchSize ?? DEFAULT_COMPARTMENT_BATCH,
    typesCacheSeconds: config.typesCacheSeconds ?? FHIR_SOURCE.typesCacheSeconds.default,
  };
}

/**
 * Reads the source configuration from environment variables (FHIR_SOURCE in
 * src/settings/fhirSourceSettings.ts; `FHIR_SOURCE_URL` is required, the others depend on
 * `FHIR_SOURCE_AUTH`). Throws an Error naming the first bad setting (never its value when it is a
 * secret).
 */
export function readFhirSourceConfig(env: Record<string, string | undefined>): FhirSourceConfig {
  const get = (setting: { name: string }) => {
    const value = env[setting.name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const required = (setting: { name: string }, mode: string) => {
    const value = get(setting);
    if (value === undefined)
      throw new Error(`${setting.name} is required when ${FHIR_SOURCE.auth.name} is ${mode}`);
    return value;
  };
  const baseUrl = get(FHIR_SOURCE.url);
  if (baseUrl === undefined)
    throw new Error(`${FHIR_SOURCE.url.name} is required (the base URL of the FHIR R4 source)`);
  checkHttpUrl(baseUrl, FHIR_SOURCE.url.name);

  const modes = FHIR_SOURCE.auth.values;
  const mode = (get(FHIR_SOURCE.auth) ?? FHIR_SOURCE.auth.default) as SourceAuthMode;
  if (!modes.includes(mode)) {
    throw new Error(`${FHIR_SOURCE.auth.name} must be one of ${modes.join(', ')} (got "${mode}")`);
  }
  let auth: SourceAuthConfig;
  switch (mode) {
    case 'none':
      auth = { mode };
      break;
    case 'bearer':
      auth = { mode, token: required(FHIR_SOURCE.token, mode) };
      break;
    case 'client-credentials': {
      const tokenUrl = checkHttpUrl(required(FHIR_SOURCE.tokenUrl, mode), FHIR_SOURCE.tokenUrl.name);
      const scope = get(FHIR_SOURCE.scope);
      auth = {
        mode,
        tokenUrl,
        clientId: required(FHIR_SOURCE.clientId, mode),
        clientSecret: required(FHIR_SOURCE.clientSecret, mode),
        ...(scope ? { scope } : {}),
      };
      break;
    }
    case 'managed-identity': {
      const clientId = get(FHIR_SOURCE.clientId) ?? get(PLATFORM.azureClientId);
      const scope = get(FHIR_SOURCE.scope);
      auth = { mode, ...(clientId ? { clientId } : {}), ...(scope ? { scope } : {}) };
      break;
    }
  }
  const defaultTypes = (get(FHIR_SOURCE.defaultTypes) ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  for (const type of defaultTypes) {
    if (!/^[A-Z][A-Za-z]{1,63}$/.test(type))
      throw new Error(`${FHIR_SOURCE.defaultTypes.name} has an invalid type "${type}"`);
  }
  return fhirSourceConfig({
    baseUrl,
    auth,
    timeoutMs: positiveInt(env, FHIR_SOURCE.timeoutMs),
    maxPageBytes: positiveInt(env, FHIR_SOURCE.maxPageBytes),
    defaultTypes,
    compartmentBatchSize: positiveInt(env, FHIR_SOURCE.compartmentBatchSize),
    typesCacheSeconds: readInteger(env, FHIR_SOURCE.typesCacheSeconds),
  });
}

/** A whole number in the setting's range; each of these starts at 1, hence "positive". */
function positiveInt(env: Record<string, string | undefined>, setting: IntegerSetting): number {
  const { name, min, max = Number.MAX_SAFE_INTEGER } = setting;
  const value = env[name]?.trim();
  if (value === undefined || value === '') return setting.default;
  if (
    !/^\d+$/.test(value) ||
    Number(value) < min ||
    Number(value) > max ||
    !Number.isSafeInteger(Number(value))
  ) {
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
