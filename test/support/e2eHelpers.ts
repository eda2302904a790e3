/** Small helpers shared by the end-to-end tests: the app's stores as a test sees them, and waits. */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import type { DurableTraceRecord } from '../../dev/runtime/durableTrace';
import { ACTIVITY_EXPORT_PAGE } from '../../functions/names';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import type { BulkDataClient, Manifest } from '../../dev/client/bulkDataClient';
import type { ExportJobRecord } from '../../src/export/model';
import type { AppProcess } from './appProcess';
import { downloadAll } from './exportFixtures';
import { testConnectionInfo } from './testEnv';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Whether a process with this id is still running. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the app's process has ended by itself (e.g. an injected crash). */
export async function waitForExit(app: AppProcess, timeoutMs = 60_000): Promise<void> {
  const pid = app.pid;
  if (pid === undefined) throw new Error('the app was never started');
  await eventually(
    `app process ${pid} to exit`,
    async () => (isAlive(pid) ? undefined : true),
    timeoutMs,
    100,
  );
}

/** The job record as the app's Cosmos jobs container holds it. */
export async function readJobRecord(app: AppProcess, jobId: string): Promise<ExportJobRecord> {
  const info = testConnectionInfo();
  const { resource } = await getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
    .database(app.database)
    .container('jobs')
    .item(jobId, jobId)
    .read<ExportJobRecord>();
  if (!resource) throw new Error(`job ${jobId} not found`);
  return resource;
}

/** Replaces the job record in the app's Cosmos jobs container (a test standing in for time passing). */
export async function replaceJobRecord(app: AppProcess, record: ExportJobRecord): Promise<void> {
  const info = testConnectionInfo();
  await getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
    .database(app.database)
    .container('jobs')
    .item(record.jobId, record.jobId)
    .replace(record);
}

/** Number of job records in the app's Cosmos jobs container (0 when it does not exist yet). */
export function countJobDocuments(app: AppProcess): Promise<number> {
  return countDocuments(app, 'job');
}

/** Number of documents of `docType` in the app's Cosmos jobs container (0 when it does not exist yet). */
export async function countDocuments(app: AppProcess, docType: string): Promise<number> {
  const info = testConnectionInfo();
  const container = getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
    .database(app.database)
    .container('jobs');
  try {
    const { resources } = await container.items
      .query<number>({
        query: 'SELECT VALUE COUNT(1) FROM c WHERE c.docType = @docType',
        parameters: [{ name: '@docType', value: docType }],
      })
      .fetchAll();
    return resources[0] ?? 0;
  } catch (error) {
    if ((error as { code?: unknown }).code === 404) return 0;
    throw error;
  }
}

/** Every job record in the app's Cosmos jobs container. */
export async function listJobRecords(app: AppProcess): Promise<ExportJobRecord[]> {
  const info = testConnectionInfo();
  const { resources } = await getCosmosClient({ endpoint: info.cosmosEndpoint, key: info.cosmosKey })
    .database(app.database)
    .container('jobs')
    .items.query<ExportJobRecord>("SELECT * FROM c WHERE c.docType = 'job'")
    .fetchAll();
  return resources;
}

/** Runs the sweeper now through the host's admin API, as an operator can on Azure. */
export async function runSweeper(app: AppProcess): Promise<void> {
  const response = await fetch(`${new URL(app.apiBaseUrl).origin}/admin/functions/sweepJobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`the sweeper's admin endpoint answered ${response.status}`);
}

/** Names of the blobs under `prefix` in the app's export container ([] when it does not exist). */
export async function listBlobs(app: AppProcess, prefix = ''): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(
    testConnectionInfo().storageConnectionString,
  ).getContainerClient(app.container);
  const names: string[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  } catch (error) {
    if ((error as { statusCode?: unknown }).statusCode === 404) return [];
    throw error;
  }
  return names;
}

/** Where an app's durable trace goes: give it as `DURABLE_TRACE_FILE` before the app starts. */
export function traceFileOf(app: AppProcess): string {
  return path.join(app.dataDir, 'trace.ndjson');
}

/**
 * The page steps (`exportPage` activities) of job `jobId` that have ended, in the order they ended, as
 * the app's durable trace (`DURABLE_TRACE_FILE`) recorded them; with the outcome each returned.
 */
export function endedPageSteps(
  traceFile: string,
  jobId: string,
): Array<{ unitId: string; outcome?: string }> {
  if (!existsSync(traceFile)) return [];
  const steps: Array<{ unitId: string; outcome?: string }> = [];
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const record = JSON.parse(line) as DurableTraceRecord;
    if (record.function !== ACTIVITY_EXPORT_PAGE || !record.input?.json) continue;
    const input = JSON.parse(record.input.json) as { jobId: string; unitId: string };
    if (input.jobId !== jobId) continue;
    const output = record.output?.json ? (JSON.parse(record.output.json) as { outcome?: string }) : {};
    steps.push({ unitId: input.unitId, outcome: output.outcome ?? record.error });
  }
  return steps;
}

/** The job id at the end of a poll URL. */
export function jobIdOf(pollUrl: string): string {
  return pollUrl.slice(pollUrl.lastIndexOf('/') + 1);
}

/** Ids per type (sorted) and every `type/id` that appears more than once. */
export function summarise(resources: Map<string, Array<Record<string, unknown>>>): {
  ids: Record<string, string[]>;
  duplicates: string[];
} {
  const ids: Record<string, string[]> = {};
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const [type, list] of resources) {
    for (const resource of list) {
      const key = `${type}/${String(resource.id)}`;
      if (seen.has(key)) duplicates.push(key);
      seen.add(key);
    }
    ids[type] = list.map((r) => String(r.id)).sort();
  }
  return { ids, duplicates };
}

/** The expected ids per type, sorted, from `expectedKeys`. */
export function sortedExpectation(
  expected: Map<string, string[]>,
  types?: string[],
): Record<string, string[]> {
  return Object.fromEntries(
    [...expected]
      .filter(([type]) => !types || types.includes(type))
      .map(([type, ids]) => [type, [...ids].sort()]),
  );
}

/** Downloads a finished export and returns its ids per type and duplicates. */
export async function downloadSummary(client: BulkDataClient, manifest: Manifest) {
  const { resources } = await downloadAll(client, manifest);
  return summarise(resources);
}

/** The durable management payload of a kick-off response body. */
export interface ManagementPayload {
  id: string;
  statusQueryGetUri: string;
  terminatePostUri: string;
}

export function managementOf(kickoffBody: string): ManagementPayload {
  return JSON.parse(kickoffBody) as ManagementPayload;
}

export interface DurableStatus {
  runtimeStatus: string;
  customStatus?: unknown;
  output?: unknown;
}

export async function durableStatus(statusQueryGetUri: string): Promise<DurableStatus> {
  const response = await fetch(statusQueryGetUri);
  return (await response.json()) as DurableStatus;
}

/** Waits until the orchestration reaches one of `statuses`. */
export function waitForRuntimeStatus(
  statusQueryGetUri: string,
  statuses: string[],
  timeoutMs = 60_000,
): Promise<DurableStatus> {
  return eventually(
    `runtimeStatus ${statuses.join('|')}`,
    async () => {
      const status = await durableStatus(statusQueryGetUri);
      return statuses.includes(status.runtimeStatus) ? status : undefined;
    },
    timeoutMs,
    250,
  );
}
