/**
 * A FHIR source that is slow on purpose: the real FHIR test server behind the fault proxy, answering
 * the first few page searches at once and every later one only after `delayMs`. An export from it
 * runs for as long as its pages take, so a test can act on a running export without racing it.
 */
import { startFaultProxy, type FaultProxy } from './faultProxy';
import { startFhirTestServer, type FhirTestServer } from './fhirTestServer';

export interface SlowFhirSource {
  /** The FHIR base URL to give the app (`FHIR_SOURCE_URL`). */
  baseUrl: string;
  proxy: FaultProxy;
  close(): Promise<void>;
}

/** A page search (`Type?…`), not a planning request (`_summary=count`, `_sort`, `metadata`, reads). */
function isPageSearch(request: { method: string; url: string }): boolean {
  return (
    request.method === 'GET' &&
    /\/[A-Z][A-Za-z]+\?/.test(request.url) &&
    !/_summary=count|_sort=/.test(request.url)
  );
}

export async function startSlowFhirSource(
  resources: Array<Record<string, unknown>>,
  options: { fastPages?: number; delayMs?: number } = {},
): Promise<SlowFhirSource> {
  const server: FhirTestServer = await startFhirTestServer();
  await server.seed(resources);
  const proxy = await startFaultProxy(server.baseUrl);
  proxy
    .addRule({ match: isPageSearch, times: options.fastPages ?? 3, action: { kind: 'pass' } })
    .addRule({ match: isPageSearch, action: { kind: 'delay', ms: options.delayMs ?? 1500 } });
  return {
    baseUrl: proxy.baseUrl,
    proxy,
    close: async () => {
      await proxy.close();
      await server.close();
    },
  };
}
