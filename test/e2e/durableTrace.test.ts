/**
 * The embedded runtime speaks to the app as the real Durable Task extension does. One representative
 * run (fan-out into lanes and units, an activity that fails and is retried, a throttling wait on a
 * durable timer, continueAsNew, a terminated export, the management API's status, history, start
 * conflict and purge answers) was recorded on the real engine into
 * `test/fixtures/realEngine/exportRun.json`. This test repeats the run on the runtime of its jest
 * project and compares its shape with the recording's, field by field. On the real engine it also
 * keeps the recording honest; `UPDATE_REAL_ENGINE_FIXTURE=1` records it again.
 * Differences kept on purpose are listed in `KNOWN_DIFFERENCES` and explained in docs/local-runtime.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import type { DurableTraceRecord } from '../../dev/runtime/durableTrace';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { AppProcess } from '../support/appProcess';
import {
  durableStatus,
  endedPageSteps,
  eventually,
  managementOf,
  traceFileOf,
  waitForRuntimeStatus,
} from '../support/e2eHelpers';
import {
  shapeOf,
  type ManagementAnswer,
  type RecordedRun,
  type RunShape,
} from '../support/durableTraceShape';
import { openableGate, startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';

const FIXTURE = path.resolve(__dirname, '..', 'fixtures', 'realEngine', 'exportRun.json');
const PATIENTS = 3;
const APP_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Where the embedded runtime differs from the real engine on purpose (docs/local-runtime.md): each
 * entry removes one part of both shapes before they are compared.
 */
const KNOWN_DIFFERENCES: Array<{ why: string; drop: (shape: RunShape) => void }> = [
  {
    why: 'the real engine runs a terminated orchestrator once more, with ExecutionTerminated, and discards what it decides; the embedded runtime ends it without that episode',
    drop: (shape) => delete shape.historyEvents.ExecutionTerminated,
  },
];

// Page searches only: the planning request (`_summary=count`) tolerates any failure.
const pageSearchOf = (type: string) => (request: { url: string }) =>
  new RegExp(`/${type}(\\?|$)`).test(request.url) && !request.url.includes('_summary=count');

async function answer(url: string, method = 'GET'): Promise<ManagementAnswer> {
  const response = await fetch(url, { method });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
}

/** A management URL of the same hub for another instance or another resource. */
function managementUrl(statusQueryGetUri: string, pathAfterBase: string, extraQuery = ''): string {
  const url = new URL(statusQueryGetUri);
  url.pathname = url.pathname.replace(/\/instances\/[^/]+$/, `/${pathAfterBase}`);
  return `${url.toString()}${extraQuery}`;
}

describe('the durable runtime, compared with the recording of the real engine', () => {
  let server: FhirTestServer;
  let proxy: FaultProxy;
  let app: AppProcess;
  let client: BulkDataClient;

  beforeAll(async () => {
    server = await startFhirTestServer();
    await server.seed(
      [...generateDataset({ patients: PATIENTS, seed: 1 })].filter((r) =>
        ['Patient', 'Observation'].includes(r.resourceType),
      ),
    );
    proxy = await startFaultProxy(server.baseUrl);
    const env: Record<string, string> = {
      SOURCE_KIND: 'fhir',
      FHIR_SOURCE_URL: proxy.baseUrl,
      EXPORT_RESOURCES_PER_PAGE: '2',
      EXPORT_TYPE_PARALLELISM: '2',
      EXPORT_PAGES_PER_CONTINUE_AS_NEW: '2',
      EXPORT_RETRY_MAX_ATTEMPTS: '3',
      EXPORT_RETRY_FIRST_INTERVAL_MS: '100',
      EXPORT_RETRY_MAX_INTERVAL_MS: '300',
    };
    app = new AppProcess({ env });
    env.DURABLE_TRACE_FILE = traceFileOf(app);
    client = new BulkDataClient(await app.start());
  });
  afterAll(async () => {
    await app?.dispose();
    await proxy?.close();
    await server?.close();
  });

  async function recordRun(): Promise<RecordedRun> {
    const management: Record<string, ManagementAnswer> = {};

    // A: fan-out over two types; Patient's first page search fails once (activity failure and
    // retry), Observation's is throttled once (a durable timer).
    proxy.addRule({ match: pageSearchOf('Patient'), times: 1, action: { kind: 'status', status: 503 } });
    proxy.addRule({
      match: pageSearchOf('Observation'),
      times: 1,
      action: { kind: 'status', status: 429, retryAfter: '1' },
    });
    const kickoff = await client.kickoff('$export', {
      query: '_type=Patient,Observation',
      headers: { 'Cache-Control': 'no-cache' },
    });
    expect(kickoff.status).toBe(202);
    const { id, statusQueryGetUri } = managementOf(kickoff.body);
    await client.waitForManifest(kickoff.pollUrl as string, { timeoutMs: 120_000, maxIntervalMs: 500 });
    await waitForRuntimeStatus(statusQueryGetUri, ['Completed', 'Failed', 'Terminated']);
    proxy.clearRules();

    const history = '&showHistory=true&showHistoryOutput=true&showInput=true';
    management.status = await answer(statusQueryGetUri);
    management.statusWithHistory = await answer(`${statusQueryGetUri}${history}`);
    const unit = encodeURIComponent(`${id}:Patient`);
    management.unitStatusWithHistory = await answer(
      managementUrl(statusQueryGetUri, `instances/${unit}`, history),
    );
    management.statusOfUnknownInstance = await answer(
      managementUrl(statusQueryGetUri, 'instances/no-such-instance'),
    );
    management.purge = await answer(statusQueryGetUri, 'DELETE');
    management.purgeAgain = await answer(statusQueryGetUri, 'DELETE');
    management.statusAfterPurge = await answer(statusQueryGetUri);

    // B: an export whose page searches the source holds, started again under its id while it runs,
    // then terminated; it cannot finish before, however fast the machine is.
    const gate = openableGate();
    proxy.addRule({ match: pageSearchOf('Patient'), action: { kind: 'hold', until: gate.opened } });
    const slow = await client.kickoff('$export', {
      query: '_type=Patient',
      headers: { 'Cache-Control': 'no-cache' },
    });
    expect(slow.status).toBe(202);
    const b = managementOf(slow.body);
    // Running, and past its first step (startExportJob), as a job that has begun to export.
    await eventually('the job orchestration to report its units', async () => {
      const status = await durableStatus(b.statusQueryGetUri);
      return status.runtimeStatus === 'Running' && status.customStatus ? status : undefined;
    });
    management.startWhileRunning = await answer(
      managementUrl(b.statusQueryGetUri, `orchestrators/exportJob/${encodeURIComponent(b.id)}`),
      'POST',
    );
    management.terminate = await answer(b.terminatePostUri.replace('{text}', 'trace'), 'POST');
    await waitForRuntimeStatus(b.statusQueryGetUri, ['Terminated']);
    management.terminatedStatusWithHistory = await answer(`${b.statusQueryGetUri}${history}`);
    management.terminateAgain = await answer(b.terminatePostUri.replace('{text}', 'again'), 'POST');
    // The held page step gets its page and ends before the trace is read: every run records it.
    gate.open();
    await eventually('the held page step to end', async () =>
      endedPageSteps(traceFileOf(app), b.id).length > 0 ? true : undefined,
    );
    proxy.clearRules();

    const trace = readFileSync(traceFileOf(app), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as DurableTraceRecord);
    return { trace, management };
  }

  it('given a representative export, when its payloads and answers are compared with the real engine, then they have the same shape', async () => {
    const run = await recordRun();
    if (app.onRealEngine && process.env.UPDATE_REAL_ENGINE_FIXTURE === '1') {
      // Stack traces name the checkout's folder: keep the machine out of the fixture.
      const text = JSON.stringify(run, null, 1).split(JSON.stringify(APP_ROOT).slice(1, -1)).join('<app>');
      writeFileSync(FIXTURE, `${text}\n`);
    }
    expect(existsSync(FIXTURE)).toBe(true);
    const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as RecordedRun;
    const expected = shapeOf(recorded);
    const actual = shapeOf(run);
    if (!app.onRealEngine) {
      for (const difference of KNOWN_DIFFERENCES) {
        difference.drop(expected);
        difference.drop(actual);
      }
    }
    expect(actual).toEqual(expected);
  });
});
