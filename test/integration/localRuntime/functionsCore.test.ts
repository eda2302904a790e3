/**
 * The `@azure/functions-core` stand-in: registrations made through the real `@azure/functions` land in
 * one shared registry, whichever copy of the stand-in module (jest-mapped, resolved by the plain-node
 * hook, or loaded twice) is asked; and captured functions are invoked the way the worker does.
 */
import Module from 'node:module';
import * as path from 'node:path';
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import * as core from '../../../dev/runtime/functionsCore';
import { FunctionInvoker, typedDataToJsonText, DurableClientData } from '../../../dev/runtime/invoker';
import { buildClientData } from '../../../dev/runtime/managementApi';
import { installFunctionsCoreHook } from '../../../dev/runtime/moduleHook';

app.http('coreProbeHttp', { route: 'probe/{id}', methods: ['GET'], handler: () => ({ body: 'probe' }) });
df.app.activity('coreProbeActivity', { handler: (input: { n: number }) => ({ doubled: input.n * 2 }) });
df.app.client.http('coreProbeStarter', {
  route: 'probe-start',
  handler: (_request, client) => ({ jsonBody: client.createHttpManagementPayload('abc') }),
});

describe('functions-core stand-in', () => {
  test('captures app.http and df.app registrations with their binding metadata', () => {
    const http = core.getRegistrations().get('coreProbeHttp');
    expect(Object.values(http?.metadata.bindings ?? {})).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'httpTrigger',
          direction: 'in',
          route: 'probe/{id}',
          methods: ['GET'],
        }),
      ]),
    );
    const activity = core.getRegistrations().get('coreProbeActivity');
    expect(Object.values(activity?.metadata.bindings ?? {})).toEqual([
      expect.objectContaining({ type: 'activityTrigger', direction: 'in' }),
    ]);
    expect(core.getProgrammingModel()?.name).toBe('@azure/functions');
  });

  test('every copy of the module, and the jest mapping, share one registry', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the jest-mapped module name itself
    const mapped = require('@azure/functions-core') as typeof core;
    expect(mapped.getRegistrations()).toBe(core.getRegistrations());
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a second, separate module instance
      const fresh = require('../../../dev/runtime/functionsCore') as typeof core;
      expect(fresh).not.toBe(core);
      expect(fresh.getRegistrations().has('coreProbeActivity')).toBe(true);
      expect(fresh.getProgrammingModel()).toBe(core.getProgrammingModel());
    });
  });

  test('the plain-node hook resolves @azure/functions-core to the stand-in', () => {
    installFunctionsCoreHook();
    const resolve = (
      Module as unknown as { _resolveFilename: (request: string, parent: unknown, isMain: boolean) => string }
    )._resolveFilename;
    expect(resolve('@azure/functions-core', null, false)).toBe(
      path.resolve(__dirname, '../../../dev/runtime/functionsCore.ts'),
    );
    expect(resolve('node:path', null, false)).toBe('node:path');
  });

  test('invokes an activity through the programming model and returns its result as typed data', async () => {
    const invoker = new FunctionInvoker(
      () => buildClientData('http://127.0.0.1:1', 'Hub'),
      () => undefined,
    );
    const registration = invoker.find('coreProbeActivity');
    expect(registration).toBeDefined();
    const response = await invoker.invoke(registration as core.FunctionRegistration, { json: '{"n":21}' });
    expect(JSON.parse(typedDataToJsonText(response.returnValue))).toEqual({ doubled: 42 });
  });

  test('passes the durableClient input as the extension does, with rpcBaseUrl at the management API', async () => {
    let data: DurableClientData | undefined;
    const invoker = new FunctionInvoker(
      () => (data = buildClientData('http://127.0.0.1:7999', 'Hub')),
      () => undefined,
    );
    const response = await invoker.invoke(invoker.find('coreProbeStarter') as core.FunctionRegistration, {
      http: { method: 'GET', url: 'http://127.0.0.1:7999/api/probe-start', headers: {} },
    });
    expect(data?.rpcBaseUrl).toBe('http://127.0.0.1:7999/runtime/webhooks/durabletask/');
    const body = JSON.parse(
      Buffer.from(response.returnValue?.http?.body?.bytes ?? []).toString('utf8'),
    ) as Record<string, string>;
    expect(body.id).toBe('abc');
    expect(body.terminatePostUri).toContain(
      '/runtime/webhooks/durabletask/instances/abc/terminate?reason={text}',
    );
  });
});
