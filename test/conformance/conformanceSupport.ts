/**
 * Shared pieces of the Bulk Data conformance suite: one app per test file (local runtime on the
 * jest emulators), raw HTTP helpers that expose headers, and an export-and-download round trip.
 */
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import { DEMO_GROUP_ID } from '../../dev/demo/seedDemo';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { generateGroup } from '../../dev/demo/syntheticGroup';
import { patientId } from '../../dev/demo/syntheticPatient';
import { AppProcess } from '../support/appProcess';
import { downloadAll, resourceWriter, seedPatients } from '../support/exportFixtures';

/** Patients seeded into each conformance app: small enough to export in a few seconds. */
export const PATIENTS = 4;

/** Settings every conformance app runs with (tests add their own on top). */
export const BASE_ENV: Record<string, string> = {
  EXPORT_KICKOFF_RATE_PER_MINUTE: '0',
  EXPORT_POLL_MIN_INTERVAL_MS: '0',
  EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
  EXPORT_RESOURCES_PER_PAGE: '25',
  EXPORT_TYPE_PARALLELISM: '8',
  EXPORT_MAX_ACTIVE_JOBS: '200',
  EXPORT_MAX_ACTIVE_JOBS_PER_CLIENT: '200',
};

export interface ConformanceApp {
  app: AppProcess;
  client: BulkDataClient;
  base: string;
}

/** Seeds the demo data (+ `extra` resources) and starts the app. */
export async function startApp(
  env: Record<string, string> = {},
  extra: Array<Record<string, unknown> & { resourceType: string; id: string }> = [],
): Promise<ConformanceApp> {
  const app = new AppProcess({ env: { ...BASE_ENV, ...env } });
  const seed = async () => {
    await seedPatients(app, PATIENTS);
    if (extra.length > 0) {
      const result = await (await resourceWriter(app)).upsertAll(extra as never);
      if (result.failed.length > 0)
        throw new Error(`seeding extra resources failed: ${JSON.stringify(result.failed[0])}`);
    }
  };
  // Seeding upserts, so a second try after a busy emulator's error is safe.
  await seed().catch(seed);
  const base = await app.start();
  return { app, client: new BulkDataClient(base), base };
}

/** Starts an app whose source is the FHIR server at `fhirBaseUrl` (nothing is seeded into Cosmos DB). */
export async function startFhirSourceApp(
  fhirBaseUrl: string,
  env: Record<string, string> = {},
): Promise<ConformanceApp> {
  const app = new AppProcess({
    env: { ...BASE_ENV, SOURCE_KIND: 'fhir', FHIR_SOURCE_URL: fhirBaseUrl, ...env },
  });
  const base = await app.start();
  return { app, client: new BulkDataClient(base), base };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: Record<string, unknown>;
}

export const KICKOFF_HEADERS = { Accept: 'application/fhir+json', Prefer: 'respond-async' } as const;

/** One HTTP request with everything a test may look at. */
export async function request(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A kick-off with the standard headers unless `headers` overrides them (a null value drops one). */
export function kickoff(
  base: string,
  path: string,
  init: {
    query?: string;
    method?: 'GET' | 'POST';
    body?: unknown;
    headers?: Record<string, string | null>;
  } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {};
  const merged: Record<string, string | null> = {
    ...KICKOFF_HEADERS,
    ...(init.body !== undefined ? { 'Content-Type': 'application/fhir+json' } : {}),
    ...(init.headers ?? {}),
  };
  for (const [name, value] of Object.entries(merged)) if (value !== null) headers[name] = value;
  const url = `${base}/${path}${init.query ? `?${init.query}` : ''}`;
  return request(url, {
    method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** A FHIR `Parameters` body from name/value pairs (`Patient/…` values become valueReference). */
export function parameters(pairs: Array<[string, string]>): Record<string, unknown> {
  return {
    resourceType: 'Parameters',
    parameter: pairs.map(([name, value]) =>
      name === 'patient' ? { name, valueReference: { reference: value } } : { name, valueString: value },
    ),
  };
}

/** Asserts an error response: the status, FHIR JSON, an OperationOutcome with an error issue. */
export function expectOperationOutcome(response: RawResponse, status: number): Record<string, unknown> {
  expect({ status: response.status, body: response.text }).toMatchObject({ status });
  expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
  expect(response.json?.resourceType).toBe('OperationOutcome');
  const issues = response.json?.issue as Array<{ severity: string; code: string; diagnostics?: string }>;
  expect(issues.length).toBeGreaterThan(0);
  return response.json as Record<string, unknown>;
}

export interface ExportResult {
  pollUrl: string;
  manifest: Manifest;
  resources: Map<string, Array<Record<string, unknown>>>;
}

/**
 * Kicks off, waits for the manifest, downloads every file (checking each line's type and the counts)
 * and returns the resources per type. The kick-off must be accepted.
 */
export async function runExport(
  target: ConformanceApp,
  path: string,
  init: Parameters<typeof kickoff>[2] = {},
): Promise<ExportResult> {
  const accepted = await kickoff(target.base, path, {
    ...init,
    headers: { 'Cache-Control': 'no-cache', ...(init.headers ?? {}) },
  });
  if (accepted.status !== 202) throw new Error(`kick-off answered ${accepted.status}: ${accepted.text}`);
  const pollUrl = accepted.headers.get('content-location') as string;
  const manifest = await target.client.waitForManifest(pollUrl, { timeoutMs: 60_000 });
  const { resources } = await downloadAll(target.client, manifest);
  return { pollUrl, manifest, resources };
}

/** Sorted ids of one type in an export. */
export function ids(resources: Map<string, Array<Record<string, unknown>>>, type: string): string[] {
  return (resources.get(type) ?? []).map((r) => String(r.id)).sort();
}

/** The types an export holds, sorted. */
export function types(resources: Map<string, Array<Record<string, unknown>>>): string[] {
  return [...resources.keys()].sort();
}

type Resource = Record<string, unknown> & { resourceType: string; id: string };

/** Everything a conformance app's source holds: the demo data plus `extra`. */
export function seededResources(extra: Resource[] = []): Resource[] {
  const members = Array.from({ length: Math.min(10, PATIENTS) }, (_, i) => patientId(i + 1));
  return [
    generateGroup(DEMO_GROUP_ID, members) as unknown as Resource,
    ...([...generateDataset({ patients: PATIENTS, seed: 1 })] as unknown as Resource[]),
    ...extra,
  ];
}

/** The patient a seeded resource belongs to (`Patient/…`), or undefined. */
export function patientOf(resource: Record<string, unknown>): string | undefined {
  if (resource.resourceType === 'Patient') return `Patient/${String(resource.id)}`;
  for (const field of ['subject', 'patient']) {
    const reference = (resource[field] as { reference?: string } | undefined)?.reference;
    if (reference?.startsWith('Patient/')) return reference;
  }
  return undefined;
}

export function lastUpdatedOf(resource: Record<string, unknown>): string {
  return String((resource.meta as { lastUpdated?: string } | undefined)?.lastUpdated);
}

/** Sorted `Type/id` keys. */
export function keys(resources: Iterable<Record<string, unknown>>): string[] {
  return [...resources].map((r) => `${String(r.resourceType)}/${String(r.id)}`).sort();
}

/** Sorted `Type/id` keys of everything an export wrote. */
export function exportedKeys(resources: Map<string, Array<Record<string, unknown>>>): string[] {
  return keys([...resources.values()].flat());
}
