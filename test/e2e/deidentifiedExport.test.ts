/**
 * De-identified export end to end, from both sources: the files hold only de-identified resources,
 * labelled, with one pseudonym per id across pages and files; the configuration is pinned at
 * kick-off; a worker killed mid-export ends with the very bytes of an undisturbed run; a resource
 * that cannot be de-identified fails the job (raise) or becomes a counted stub (skip).
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient, type Manifest } from '../../dev/client/bulkDataClient';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import type { DeidConfigDocument } from '../../src/export/model';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { SMALL_CONFIG, uploadConfig } from '../support/anonymizationConfigs';
import { AppProcess } from '../support/appProcess';
import {
  eventually,
  jobIdOf,
  readJobRecord,
  replaceJobRecord,
  runSweeper,
  waitForExit,
} from '../support/e2eHelpers';
import { downloadAll, seedPatients } from '../support/exportFixtures';
import { GATED_SOURCE_APP_ENV, startGatedFhirSource, type GatedFhirSource } from '../support/gatedFhirSource';
import { testConnectionInfo } from '../support/testEnv';

type Resource = Record<string, unknown> & { resourceType: string; id: string };
type Exported = Map<string, Array<Record<string, unknown>>>;

const PATIENTS = 4;
/** Small pages and files: a patient's resources span several pages and files of their type. */
const APP_ENV = {
  EXPORT_RESOURCES_PER_PAGE: '3',
  EXPORT_FILE_ROLL_BYTES: '4096',
  EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
};
/** The same configuration with its keys given, so that two jobs write the same bytes. */
const FIXED_KEYS_CONFIG = {
  ...SMALL_CONFIG,
  parameters: { ...SMALL_CONFIG.parameters, cryptoHashKey: 'a'.repeat(64), dateShiftKey: 'b'.repeat(64) },
};
/** A rule that fails on every Patient: `gender` is a primitive, the replacement an object. */
const FAILING_RULE = { path: 'Patient.gender', method: 'substitute', replaceWith: { code: 'x' } };
/** What a configuration blob is overwritten with mid-export: it would leave every resource as it is. */
const KEEP_ALL = { fhirPathRules: [{ path: 'Resource', method: 'keep' }] };
const seeded = [...generateDataset({ patients: PATIENTS, seed: 1 })] as unknown as Resource[];
/** The types of the dataset (the Cosmos source holds the demo Group too). */
const DATASET_TYPES = `&_type=${[...new Set(seeded.map((r) => r.resourceType))].join(',')}`;

function countsByType(resources: Iterable<Resource | Record<string, unknown>>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of resources) counts[String(r.resourceType)] = (counts[String(r.resourceType)] ?? 0) + 1;
  return counts;
}

function securityCodes(resource: Record<string, unknown>): string[] {
  const security = (resource.meta as { security?: Array<{ code: string }> } | undefined)?.security ?? [];
  return security.map((s) => s.code);
}

/** Every `Patient/…` a resource refers to as its subject or patient. */
function patientReference(resource: Record<string, unknown>): string | undefined {
  for (const field of ['subject', 'patient']) {
    const reference = (resource[field] as { reference?: string } | undefined)?.reference;
    if (reference?.startsWith('Patient/')) return reference.slice('Patient/'.length);
  }
  return undefined;
}

/**
 * The export holds each seeded resource once, de-identified: no source id left anywhere, no names,
 * every resource labelled, and each patient's pseudonym the same in every page and file.
 */
function expectDeidentified(exported: Exported, manifest: Manifest, source: Resource[] = seeded): void {
  const all = [...exported.values()].flat();
  expect(countsByType(all)).toEqual(countsByType(source));
  const text = JSON.stringify(all);
  for (const resource of seeded) expect(text.includes(resource.id)).toBe(false);
  for (const patient of exported.get('Patient') ?? []) expect(patient.name).toBeUndefined();
  for (const resource of all) expect(securityCodes(resource)).toContain('CRYTOHASH');

  const pseudonyms = new Set((exported.get('Patient') ?? []).map((p) => String(p.id)));
  expect(pseudonyms.size).toBe(PATIENTS);
  // Observations of one patient span pages and files: they all name one of the patients' pseudonyms.
  expect(manifest.output.filter((o) => o.type === 'Observation').length).toBeGreaterThan(1);
  const referenced = new Set(all.map(patientReference).filter((r): r is string => r !== undefined));
  expect([...referenced].sort()).toEqual([...pseudonyms].sort());
}

async function pinnedDocument(app: AppProcess, jobId: string): Promise<DeidConfigDocument | undefined> {
  const info = testConnectionInfo();
  try {
    const { resource } = await getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
      .database(app.database)
      .container('jobs')
      .item(`${jobId}:deid`, jobId)
      .read<DeidConfigDocument>();
    return resource;
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return undefined;
    throw error;
  }
}

async function kickoff(client: BulkDataClient, config: string, query = ''): Promise<string> {
  const response = await client.kickoff(
    `$export?_anonymizationConfig=${encodeURIComponent(config)}${query}`,
    {
      headers: { 'Cache-Control': 'no-cache' },
    },
  );
  expect(response.status).toBe(202);
  return response.pollUrl as string;
}

/** Each type's files, downloaded and joined in manifest order: the bytes an export wrote. */
async function bytesByType(client: BulkDataClient, manifest: Manifest): Promise<Record<string, string>> {
  const bytes: Record<string, string> = {};
  for (const entry of manifest.output) {
    bytes[entry.type] =
      (bytes[entry.type] ?? '') + (await client.download(entry.url, manifest.requiresAccessToken));
  }
  return bytes;
}

describe('de-identified export from the Cosmos DB source', () => {
  const env: Record<string, string> = { ...APP_ENV };
  const app = new AppProcess({ env });
  let client: BulkDataClient;

  beforeAll(async () => {
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(() => app.dispose());

  it('given a configuration without keys, when exported, then every file holds de-identified, labelled resources with one pseudonym per patient, and the generated keys are never shown', async () => {
    const config = await uploadConfig(SMALL_CONFIG);
    const response = await client.kickoff(
      `$export?_anonymizationConfig=${config.name}&_type=Patient,Observation,Condition`,
      {
        headers: { 'Cache-Control': 'no-cache' },
      },
    );
    expect(response.status).toBe(202);
    const pollUrl = response.pollUrl as string;
    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 120_000, maxIntervalMs: 1000 });
    const { resources } = await downloadAll(client, manifest);
    const onlyTypes = new Set(['Patient', 'Observation', 'Condition']);
    expectDeidentified(
      resources,
      manifest,
      seeded.filter((r) => onlyTypes.has(r.resourceType)),
    );

    const jobId = jobIdOf(pollUrl);
    const pinned = await pinnedDocument(app, jobId);
    expect(Object.keys(pinned?.missingKeys ?? {}).sort()).toEqual(['cryptoHashKey', 'dateShiftKey']);
    const keys = Object.values(pinned?.missingKeys ?? {});
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{64}$/);
    const shown = [
      response.body,
      JSON.stringify(manifest),
      JSON.stringify(await readJobRecord(app, jobId)),
      app.output,
    ].join('\n');
    for (const key of keys) expect(shown.includes(key)).toBe(false);
  });

  it('given a de-identified job past the expiry of its files, when the sweeper runs, then its pinned configuration and keys are deleted with its files', async () => {
    const config = await uploadConfig(SMALL_CONFIG);
    const pollUrl = await kickoff(client, config.name, '&_type=Patient');
    await client.waitForManifest(pollUrl, { timeoutMs: 60_000, maxIntervalMs: 500 });
    const jobId = jobIdOf(pollUrl);
    expect(await pinnedDocument(app, jobId)).toBeDefined();

    // Past the files' expiry, long before the history retention (a week) ends.
    const past = new Date(Date.now() - 60_000).toISOString();
    await replaceJobRecord(app, { ...(await readJobRecord(app, jobId)), expiresAt: past });
    await runSweeper(app);
    const swept = await eventually('the files deleted', async () => {
      const job = await readJobRecord(app, jobId);
      return job.filesDeletedAt ? job : undefined;
    });
    expect(swept.historyPurgedAt).toBeUndefined();
    expect(await pinnedDocument(app, jobId)).toBeUndefined();
  });

  it('given an app killed right after it wrote a de-identified page, when it is restarted, then the files hold the very bytes of an undisturbed run', async () => {
    const config = await uploadConfig(FIXED_KEYS_CONFIG);
    const undisturbed = await client.waitForManifest(await kickoff(client, config.name, DATASET_TYPES), {
      timeoutMs: 120_000,
      maxIntervalMs: 1000,
    });
    const expected = await bytesByType(client, undisturbed);

    await app.stop();
    env.LOCAL_CRASH_AT = 'written:2';
    rmSync(path.join(app.dataDir, 'crash-injected'), { force: true });
    client = new BulkDataClient(await app.start());
    const pollUrl = await kickoff(client, config.name, DATASET_TYPES);
    await waitForExit(app);
    expect(readFileSync(path.join(app.dataDir, 'crash-injected'), 'utf8')).toMatch(/^written:2 /);
    delete env.LOCAL_CRASH_AT;
    client = new BulkDataClient(await app.start());
    const crashed = await client.waitForManifest(pollUrl, { timeoutMs: 120_000, maxIntervalMs: 1000 });

    expect(await bytesByType(client, crashed)).toEqual(expected);
    const { resources } = await downloadAll(client, crashed);
    expectDeidentified(resources, crashed);
  });

  it('given processingErrors raise and a rule that fails on Patients, when exported, then the job fails 400 naming the type and the rule', async () => {
    const config = await uploadConfig({
      ...SMALL_CONFIG,
      fhirPathRules: [...SMALL_CONFIG.fhirPathRules, FAILING_RULE],
    });
    const pollUrl = await kickoff(client, config.name, '&_type=Patient');
    const failed = await eventually('the job to fail', async () => {
      const answer = await fetch(pollUrl);
      const body = await answer.text();
      return answer.status === 202 ? undefined : { status: answer.status, body };
    });
    expect(failed.status).toBe(400);
    const diagnostics = (JSON.parse(failed.body) as { issue: Array<{ diagnostics: string }> }).issue[0]
      .diagnostics;
    expect(diagnostics).toMatch(/Patient/);
    expect(diagnostics).toMatch(new RegExp(`rule ${SMALL_CONFIG.fhirPathRules.length}\\b`));
    for (const resource of seeded) expect(diagnostics.includes(resource.id)).toBe(false);
  });

  it('given processingErrors skip and a rule that fails on Patients, when exported, then Patients are redacted stubs counted in the error file and the other types are de-identified', async () => {
    const config = await uploadConfig({
      ...SMALL_CONFIG,
      processingErrors: 'skip',
      fhirPathRules: [...SMALL_CONFIG.fhirPathRules, FAILING_RULE],
    });
    const manifest = await client.waitForManifest(
      await kickoff(client, config.name, '&_type=Patient,Observation'),
      {
        timeoutMs: 120_000,
        maxIntervalMs: 1000,
      },
    );
    const { resources } = await downloadAll(client, manifest);
    const patients = resources.get('Patient') ?? [];
    expect(patients).toHaveLength(PATIENTS);
    for (const stub of patients) {
      expect(Object.keys(stub).sort()).toEqual(['meta', 'resourceType']);
      expect(securityCodes(stub)).toEqual(['REDACTED']);
    }
    expect(resources.get('Observation')?.every((o) => securityCodes(o).includes('CRYTOHASH'))).toBe(true);

    expect(manifest.error).toHaveLength(1);
    const errors = (await client.download(manifest.error[0].url, manifest.requiresAccessToken))
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { resourceType: string; issue: Array<{ diagnostics: string }> });
    expect(errors).toHaveLength(1);
    expect(errors[0].resourceType).toBe('OperationOutcome');
    expect(errors[0].issue[0].diagnostics).toMatch(
      new RegExp(
        `^${PATIENTS} Patient resources could not be de-identified by rule ${SMALL_CONFIG.fhirPathRules.length} `,
      ),
    );
  });
});

describe('de-identified export from a FHIR REST source', () => {
  let source: GatedFhirSource;
  const env: Record<string, string> = { ...APP_ENV, ...GATED_SOURCE_APP_ENV, SOURCE_KIND: 'fhir' };
  const app = new AppProcess({ env });

  beforeAll(async () => {
    source = await startGatedFhirSource(seeded, { fastPages: 3 });
    env.FHIR_SOURCE_URL = source.baseUrl;
  });
  afterAll(async () => {
    await app.dispose();
    await source?.close();
  });

  it('given the configuration blob overwritten mid-export, when the export goes on, then every page is de-identified by the configuration pinned at kick-off', async () => {
    const client = new BulkDataClient(await app.start());
    const original = JSON.stringify(SMALL_CONFIG);
    const config = await uploadConfig(original);
    const pollUrl = await kickoff(client, config.name);
    // Pages were written, and the next ones wait at the source: the blob changes between them.
    await eventually('a page to be written', async () =>
      (await readJobRecord(app, jobIdOf(pollUrl))).status === 'Running' ? true : undefined,
    );
    await source.waitUntilHeld(1);
    await uploadConfig(KEEP_ALL, config.name);
    source.open();

    const manifest = await client.waitForManifest(pollUrl, { timeoutMs: 120_000, maxIntervalMs: 1000 });
    const { resources } = await downloadAll(client, manifest);
    expectDeidentified(resources, manifest);
    const extension = (manifest as Manifest & { extension?: { deidentification?: { sha256?: string } } })
      .extension;
    expect(extension?.deidentification?.sha256).toBe(createHash('sha256').update(original).digest('hex'));
  });
});
