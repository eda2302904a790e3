/**
 * The Node worker of the real-engine host (`engine/host`): loads the app of `functions/` through the
 * real `@azure/functions` and `durable-functions` code and runs what the host hands it.
 *
 * - `POST /_engine/invoke/{name}`: one orchestrator episode or activity, with the trigger payload
 *   exactly as the Durable Task extension produced it; answers the function's result as JSON text,
 *   or 500 with `{ message, stack }`.
 * - `POST /_engine/durable-client`: the durable client JSON of the extension's client binding, which
 *   the app's HTTP triggers receive as their `durableClient` input.
 * - `/{routePrefix}/…`: the app's HTTP triggers (streamed through the worker's proxy when the app
 *   enables HTTP streams, as on Azure).
 * - `/runtime/webhooks/durabletask/…`: the extension's management API, proxied to its local listener,
 *   so that `statusQueryGetUri` and the other links answer where Azure serves them.
 *
 * Prints `WORKER {baseUrl}` once it listens.
 */
import * as path from 'node:path';
import { loadConfig } from '../../src/config';
import { setServiceOverrides } from '../../src/services';
import { exitOnShutdown } from '../../dev/runtime/shutdown';
import { activityFaultFromEnv } from '../../dev/runtime/activityFaults';
import { durableTraceFromEnv } from '../../dev/runtime/durableTrace';
import { crashProbeFromEnv } from '../../dev/runtime/crashInjection';
import { getProgrammingModel } from '../../dev/runtime/functionsCore';
import { HttpHost } from '../../dev/runtime/httpHost';
import {
  FunctionInvoker,
  triggerOf,
  typedDataToJsonText,
  type DurableClientData,
} from '../../dev/runtime/invoker';
import { hostKeyFromEnv, hostKeyNotice, keyedApi } from '../../dev/runtime/hostKeys';
import { managementPrefix, type ApiRequest, type ApiResponse } from '../../dev/runtime/managementApi';
import { installFunctionsCoreHook } from '../../dev/runtime/moduleHook';
import { appEntry } from '../../dev/runtime/appEntry';
import { TimerHost } from '../../dev/runtime/timerHost';
import { localSettingsFromEnv } from '../../src/settings/hostSettings';

export const WORKER_READY_PREFIX = 'WORKER ';
const ENGINE_API_PREFIX = '/_engine';

const log = (line: string): void => console.log(line);

async function main(): Promise<void> {
  loadConfig(process.env);
  const { dataDir } = localSettingsFromEnv(process.env);
  setServiceOverrides({ probe: crashProbeFromEnv(process.env.LOCAL_CRASH_AT, dataDir) });

  installFunctionsCoreHook();
  // ENGINE_APP_ROOT is also where the host reads host.json: one app root for both.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(appEntry(process.env.ENGINE_APP_ROOT, path.join(__dirname, '..', '..', 'functions', 'index.js')));
  if (!getProgrammingModel()) throw new Error('The app registered nothing through @azure/functions.');

  const durableClient: { data?: DurableClientData } = {};
  const invoker = new FunctionInvoker(
    () => {
      if (!durableClient.data) throw new Error('The engine host has not sent the durable client yet.');
      return durableClient.data;
    },
    log,
    durableTraceFromEnv(process.env),
    activityFaultFromEnv(process.env.LOCAL_FAIL_ACTIVITY),
  );

  // Timer functions take the durable client too: they start with it.
  const timerHost = new TimerHost(invoker, log);
  const hostKey = hostKeyFromEnv(process.env);
  log(hostKeyNotice(hostKey));
  const httpHost = new HttpHost({
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 0),
    routePrefix: process.env.ENGINE_ROUTE_PREFIX ?? 'api',
    invoker,
    // As the worker does when it starts: an app with HTTP streams starts its proxy here.
    workerHttpUri: (await invoker.capabilities()).HttpUri,
    triggersReady: () => durableClient.data !== undefined,
    apis: [
      {
        prefix: ENGINE_API_PREFIX,
        handle: (request) => handleEngineRequest(invoker, durableClient, timerHost, request),
      },
      keyedApi(
        {
          prefix: managementPrefix,
          handle: (request) => proxyManagementRequest(durableClient.data, request),
        },
        hostKey,
      ),
      keyedApi(timerHost.adminApi(), hostKey),
    ],
    log,
  });
  const baseUrl = await httpHost.listen();
  // durable-functions builds management links from WEBSITE_HOSTNAME when it is set.
  process.env.WEBSITE_HOSTNAME ??= new URL(baseUrl).host;
  process.stdout.write(`${WORKER_READY_PREFIX}${baseUrl}\n`);

  exitOnShutdown(
    () => {
      timerHost.stop();
      return httpHost.close();
    },
    {
      withStdin: process.env.ENGINE_WORKER_EXIT_WITH_STDIN === '1',
    },
  );
}

async function handleEngineRequest(
  invoker: FunctionInvoker,
  durableClient: { data?: DurableClientData },
  timerHost: TimerHost,
  request: ApiRequest,
): Promise<ApiResponse> {
  const [resource, name] = request.segments;
  if (request.method !== 'POST') return { status: 405 };
  if (resource === 'durable-client' && !name) {
    durableClient.data = JSON.parse(request.body.toString('utf8')) as DurableClientData;
    timerHost.start();
    return { status: 204 };
  }
  if (resource !== 'invoke' || !name) return { status: 404 };
  const registration = invoker.find(name);
  const triggerType = registration ? triggerOf(registration)?.binding.type : undefined;
  if (!registration || (triggerType !== 'orchestrationTrigger' && triggerType !== 'activityTrigger')) {
    return failure(new Error(`No orchestrator or activity named '${name}' is registered.`));
  }
  const payload = request.body.toString('utf8');
  try {
    // The orchestration trigger takes the extension's payload as a string, as the Functions host
    // passes it; an activity's input is JSON.
    const data = triggerType === 'orchestrationTrigger' ? { string: payload } : { json: payload };
    const response = await invoker.invoke(registration, data);
    return { status: 200, body: Buffer.from(typedDataToJsonText(response.returnValue)) };
  } catch (error) {
    return failure(error);
  }
}

function failure(error: unknown): ApiResponse {
  const asError = error instanceof Error ? error : new Error(String(error));
  return { status: 500, body: { message: asError.message, stack: asError.stack ?? '' } };
}

/** Forwards a management request to the extension's local API (`rpcBaseUrl`), status, headers and body as they are. */
async function proxyManagementRequest(
  client: DurableClientData | undefined,
  request: ApiRequest,
): Promise<ApiResponse> {
  if (!client) return { status: 503, headers: { 'Retry-After': '1' } };
  const target = new URL(request.segments.map(encodeURIComponent).join('/'), client.rpcBaseUrl);
  target.search = request.query.toString();
  const contentType = request.headers['content-type'];
  const answer = await fetch(target, {
    method: request.method,
    headers: typeof contentType === 'string' ? { 'content-type': contentType } : undefined,
    body: request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body,
  });
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'location', 'retry-after']) {
    const value = answer.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { status: answer.status, headers, body: Buffer.from(await answer.arrayBuffer()) };
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
