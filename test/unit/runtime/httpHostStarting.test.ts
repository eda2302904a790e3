import { HttpHost } from '../../../dev/runtime/httpHost';
import type { FunctionInvoker } from '../../../dev/runtime/invoker';

/** An invoker with no functions: enough to tell "not ready" (503) from "no such route" (404). */
const noFunctions = { byTrigger: () => [] } as unknown as FunctionInvoker;

describe('HttpHost while the app cannot serve its triggers yet', () => {
  let ready = false;
  let host: HttpHost;
  let baseUrl: string;

  beforeAll(async () => {
    host = new HttpHost({
      host: '127.0.0.1',
      port: 0,
      routePrefix: 'api',
      invoker: noFunctions,
      apis: [{ prefix: '/_engine', handle: () => ({ status: 204 }) }],
      log: () => undefined,
      triggersReady: () => ready,
    });
    baseUrl = await host.listen();
  });
  afterAll(() => host.close());

  it('answers 503 with Retry-After on app routes, and serves its own APIs', async () => {
    ready = false;
    const route = await fetch(`${baseUrl}/api/$export`);
    expect(route.status).toBe(503);
    expect(route.headers.get('retry-after')).toBe('1');
    expect((await fetch(`${baseUrl}/_engine/durable-client`, { method: 'POST' })).status).toBe(204);
  });

  it('routes to the triggers once ready', async () => {
    ready = true;
    expect((await fetch(`${baseUrl}/api/$export`)).status).toBe(404);
  });
});
