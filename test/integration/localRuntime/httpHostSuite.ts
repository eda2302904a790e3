/**
 * HTTP triggers served on loopback, and the durable management API driven by the real DurableClient
 * (`df.app.client.http` starter, `createCheckStatusResponse` links fetched from the runtime). Run once
 * per way the host hands HTTP to the worker: over RPC (`httpApp`) and with HTTP streams
 * (`httpStreamApp`).
 */
import * as fs from 'node:fs';
import { LocalRuntime, startLocalRuntime } from '../../../dev/runtime/runtime';
import { gates } from '../../fixtures/localRuntime/httpApp';
import { fixture, tempDataDir, waitFor } from './helpers';

interface CheckStatusPayload {
  id: string;
  statusQueryGetUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
}

export function describeHttpHost(
  app: 'httpApp' | 'httpStreamApp',
  more: (runtime: () => LocalRuntime) => void,
): void {
  describe(`local runtime: HTTP host and durable management API (${app})`, () => {
    let runtime: LocalRuntime;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = tempDataDir('http');
      runtime = await startLocalRuntime({ appEntry: fixture(app), dataDir });
    });

    afterAll(async () => {
      await runtime.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const startViaStarter = async (name: string, input: unknown, instanceId?: string): Promise<Response> =>
      fetch(`${runtime.apiBaseUrl}/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`, {
        method: 'POST',
        body: JSON.stringify(input),
      });

    test('listens on loopback under the api prefix', () => {
      expect(runtime.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(runtime.apiBaseUrl).toBe(`${runtime.baseUrl}/api`);
    });

    test('routes {param} and optional {param?} segments, query and headers', async () => {
      const full = await fetch(`${runtime.apiBaseUrl}/greet/Ada/Lovelace?tag=a&tag=b`, {
        headers: { 'x-test': 'yes' },
      });
      expect(full.status).toBe(200);
      expect(await full.json()).toEqual({ name: 'Ada', suffix: 'Lovelace', tags: ['a', 'b'], header: 'yes' });

      const short = await fetch(`${runtime.apiBaseUrl}/GREET/Bob`);
      expect(await short.json()).toMatchObject({ name: 'Bob', suffix: null });
    });

    test('passes request bodies as streams and returns status, headers and body', async () => {
      const response = await fetch(`${runtime.apiBaseUrl}/echo`, { method: 'PUT', body: 'ndjson line' });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-length')).toBe('11');
      expect(await response.text()).toBe('NDJSON LINE');
    });

    test('sends streamed response bodies', async () => {
      const response = await fetch(`${runtime.apiBaseUrl}/files/Patient.ndjson`);
      expect(response.headers.get('content-type')).toBe('application/fhir+ndjson');
      const lines = (await response.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; resourceType: string });
      expect(lines.map((l) => `${l.resourceType}/${l.id}`)).toEqual(['Patient/1', 'Patient/2', 'Patient/3']);
    });

    test('unknown routes and methods are 404; a throwing handler is a short 500', async () => {
      expect((await fetch(`${runtime.apiBaseUrl}/nothing-here`)).status).toBe(404);
      expect((await fetch(`${runtime.baseUrl}/elsewhere`)).status).toBe(404);
      expect((await fetch(`${runtime.apiBaseUrl}/echo`)).status).toBe(404); // GET not allowed

      const failed = await fetch(`${runtime.apiBaseUrl}/explode`);
      expect(failed.status).toBe(500);
      const body = await failed.text();
      expect(body.length).toBeLessThan(100);
      expect(body).not.toContain('secret internal detail');
    });

    test('a df.app.client.http starter starts an orchestration; its statusQueryGetUri reports Completed', async () => {
      const started = await startViaStarter('HttpSequence', ['Ada', 'Grace']);
      expect(started.status).toBe(202);
      const payload = (await started.json()) as CheckStatusPayload;
      expect(started.headers.get('location')).toBe(payload.statusQueryGetUri);
      expect(started.headers.get('retry-after')).toBe('10');
      expect(
        payload.statusQueryGetUri.startsWith(
          `${runtime.baseUrl}/runtime/webhooks/durabletask/instances/${payload.id}`,
        ),
      ).toBe(true);

      const done = await waitFor(async () => {
        const response = await fetch(payload.statusQueryGetUri);
        return response.status === 200 ? response : undefined;
      });
      expect(await done.json()).toMatchObject({
        name: 'HttpSequence',
        instanceId: payload.id,
        runtimeStatus: 'Completed',
        input: ['Ada', 'Grace'],
        output: ['Hello Ada', 'Hello Grace'],
        customStatus: { done: 2 },
      });

      // The DurableClient's own getStatus and createHttpManagementPayload go through the same API.
      const viaClient = (await (await fetch(`${runtime.apiBaseUrl}/status/${payload.id}`)).json()) as {
        runtimeStatus: string;
        payload: CheckStatusPayload;
      };
      expect(viaClient.runtimeStatus).toBe('Completed');
      expect(viaClient.payload.statusQueryGetUri).toBe(payload.statusQueryGetUri);
    });

    test('status is 202 while running, terminatePostUri terminates, purgeHistoryDeleteUri purges', async () => {
      const started = await startViaStarter('HttpWaiter', 'http-gate', 'waiter-1');
      const payload = (await started.json()) as CheckStatusPayload;
      await waitFor(() => gates.get('http-gate'));

      const running = await fetch(payload.statusQueryGetUri);
      expect(running.status).toBe(202);
      expect(await running.json()).toMatchObject({ runtimeStatus: 'Running', customStatus: 'waiting' });

      const again = await startViaStarter('HttpWaiter', 'http-gate', 'waiter-1');
      expect(again.status).toBe(500); // the starter's startNew is refused by the API with 409
      const conflict = await fetch(
        `${runtime.baseUrl}/runtime/webhooks/durabletask/orchestrators/HttpWaiter/waiter-1`,
        { method: 'POST' },
      );
      expect(conflict.status).toBe(409);

      const terminated = await fetch(payload.terminatePostUri.replace('{text}', 'stop%20it'), {
        method: 'POST',
      });
      expect(terminated.status).toBe(202);
      const final = await fetch(payload.statusQueryGetUri);
      expect(final.status).toBe(200);
      expect(await final.json()).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop it' });
      expect((await fetch(payload.terminatePostUri, { method: 'POST' })).status).toBe(410);

      const purged = await fetch(payload.purgeHistoryDeleteUri, { method: 'DELETE' });
      expect(purged.status).toBe(200);
      expect(await purged.json()).toEqual({ instancesDeleted: 1 });
      expect((await fetch(payload.statusQueryGetUri)).status).toBe(404);
      gates.get('http-gate')?.('late');
    });

    test('showHistory and showInput flags of the status endpoint', async () => {
      const started = await startViaStarter('HttpSequence', ['Linus']);
      const { statusQueryGetUri, id } = (await started.json()) as CheckStatusPayload;
      await runtime.client.waitForCompletion(id);

      const withHistory = (await (
        await fetch(`${statusQueryGetUri}&showHistory=true&showInput=false`)
      ).json()) as {
        input: unknown;
        historyEvents: Array<{ EventType: string }>;
      };
      expect(withHistory.input).toBeNull();
      expect(withHistory.historyEvents.map((e) => e.EventType)).toContain('TaskCompleted');
      const plain = (await (await fetch(statusQueryGetUri)).json()) as Record<string, unknown>;
      expect(plain.historyEvents).toBeUndefined();
      expect(Object.keys(plain).sort()).toEqual(
        [
          'createdTime',
          'customStatus',
          'input',
          'instanceId',
          'lastUpdatedTime',
          'name',
          'output',
          'runtimeStatus',
        ].sort(),
      );
    });

    more(() => runtime);
  });
}
