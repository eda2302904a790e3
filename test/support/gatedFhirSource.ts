/**
 * A FHIR source whose page searches the test lets through: the real FHIR test server behind the
 * fault proxy, answering the first few page searches at once and holding every later one until the
 * test opens the gate. An export from it cannot finish while the gate is shut, so a test acts on a
 * running export with pages certainly in flight, then opens the gate and waits until every held
 * search has been answered.
 */
import type { AppProcess } from './appProcess';
import { openableGate, startFaultProxy, type FaultProxy, type ProxiedRequest } from './faultProxy';
import { endedPageSteps, eventually, listBlobs, traceFileOf } from './e2eHelpers';
import { startFhirTestServer, type FhirTestServer } from './fhirTestServer';

export interface GatedFhirSource {
  /** The FHIR base URL to give the app (`FHIR_SOURCE_URL`). */
  baseUrl: string;
  proxy: FaultProxy;
  /** Page searches held now: received, not yet let through, their client still waiting. */
  held(): ProxiedRequest[];
  /** Waits until at least `count` page searches are held at once. */
  waitUntilHeld(count: number): Promise<void>;
  /** Lets every held page search through, and every later one at once. */
  open(): void;
  /** Waits until every page search held so far has ended: answered, or its client hung up. */
  waitUntilAnswered(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A page search (`Type?…`), not a planning request (`_summary=count`, the first or last update by
 * `_sort=±_lastUpdated&_count=1`, `metadata`, reads). A page search of one resource has the very
 * shape of the first-update probe, so apps behind this gate use pages of two or more.
 */
function isPageSearch(request: { method: string; url: string }): boolean {
  return (
    request.method === 'GET' &&
    /\/[A-Z][A-Za-z]+\?/.test(request.url) &&
    !/_summary=count|_sort=-?_lastUpdated&_count=1(&|$)/.test(request.url)
  );
}

export async function startGatedFhirSource(
  resources: Array<Record<string, unknown>>,
  options: { fastPages?: number } = {},
): Promise<GatedFhirSource> {
  const server: FhirTestServer = await startFhirTestServer();
  await server.seed(resources);
  const proxy = await startFaultProxy(server.baseUrl);
  const gate = openableGate();
  proxy
    .addRule({ match: isPageSearch, times: options.fastPages ?? 3, action: { kind: 'pass' } })
    .addRule({ match: isPageSearch, action: { kind: 'hold', until: gate.opened } });
  let opened = false;
  const everHeld = () => proxy.requests.filter((r) => r.action === 'hold');
  const held = () => (opened ? [] : everHeld().filter((r) => !r.ended));
  return {
    baseUrl: proxy.baseUrl,
    proxy,
    held,
    waitUntilHeld: (count) =>
      eventually(`${count} page searches held at the source`, async () =>
        held().length >= count ? true : undefined,
      ).then(() => undefined),
    open: () => {
      opened = true;
      gate.open();
    },
    waitUntilAnswered: () =>
      eventually('every held page search to be answered', async () =>
        everHeld().every((r) => r.ended) ? true : undefined,
      ).then(() => undefined),
    close: async () => {
      gate.open();
      await proxy.close();
      await server.close();
    },
  };
}

/**
 * Settings for an app exporting from a gated source: every page search comes from a running page
 * step (none is read ahead), and a held one waits for the gate, not for the source's deadline.
 */
export const GATED_SOURCE_APP_ENV = { EXPORT_SOURCE_READ_AHEAD: 'off', FHIR_SOURCE_TIMEOUT_MS: '600000' };

/**
 * Waits until job `jobId` has written a file and each of its `lanes` page steps waits for its page
 * at the gate: then no page step of the job is between its search and its end. `release` opens the
 * gate and, once every held search is answered and the held page steps have ended (as the app's
 * durable trace, `traceFileOf(app)`, records them), returns their outcomes.
 */
export async function holdRunningExport(
  source: GatedFhirSource,
  app: AppProcess,
  run: { jobId: string; lanes: number },
): Promise<{ release(): Promise<Array<string | undefined>> }> {
  await eventually('a file to be written', async () =>
    (await listBlobs(app, `${run.jobId}/`)).length > 0 ? true : undefined,
  );
  await source.waitUntilHeld(run.lanes);
  const endedBefore = endedPageSteps(traceFileOf(app), run.jobId).length;
  return {
    release: async () => {
      source.open();
      await source.waitUntilAnswered();
      const held = await eventually('the held page steps to end', async () => {
        const steps = endedPageSteps(traceFileOf(app), run.jobId).slice(endedBefore);
        return steps.length >= run.lanes ? steps : undefined;
      });
      return held.map((step) => step.outcome);
    },
  };
}
