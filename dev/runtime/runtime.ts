import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Clock, realClock } from './clock';
import { getProgrammingModel, setLogSink } from './functionsCore';
import { HttpHost } from './httpHost';
import { InstanceStore } from './instanceStore';
import { DurableClientData, FunctionInvoker } from './invoker';
import { activityFaultFromEnv } from './activityFaults';
import { durableTraceFromEnv } from './durableTrace';
import { hostKeyFromEnv, hostKeyNotice, keyedApi } from './hostKeys';
import { buildClientData, handleManagementRequest, managementPrefix, rpcPrefix } from './managementApi';
import { installFunctionsCoreHook } from './moduleHook';
import { TimerHost } from './timerHost';
import { closeWorkerProxy } from './workerHttpProxy';
import {
  OrchestrationEngine,
  OrchestrationStatus,
  StatusOptions,
  TerminateResult,
} from './orchestrationEngine';

export type { Clock } from './clock';
export { ManualClock, realClock } from './clock';
export type { OrchestrationStatus, StatusOptions, TerminateResult } from './orchestrationEngine';
export type { RuntimeStatus } from './instanceStore';

/** Embedded stand-in for the Functions host + durable extension, running the app's real registrations. */
export interface LocalRuntimeOptions {
  /** Module that registers the functions (e.g. the compiled `functions/index.js`, or a test fixture). */
  appEntry: string;
  /** Loopback port; 0 picks a free one. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Instance state goes to `{dataDir}/durable/`. */
  dataDir: string;
  /** Time source for timers and retry back-off (tests pass a `ManualClock`). */
  clock?: Clock;
  /** Bound on activities running at once (host.json maxConcurrentActivityFunctions). Default 8. */
  maxConcurrentActivities?: number;
  taskHubName?: string;
  /** HTTP route prefix (host.json extensions.http.routePrefix). Default `api`. */
  routePrefix?: string;
  log?: (line: string) => void;
}

export interface LocalRuntimeClient {
  start(orchestratorName: string, input?: unknown, instanceId?: string): Promise<string>;
  getStatus(instanceId: string, options?: StatusOptions): Promise<OrchestrationStatus | undefined>;
  waitForCompletion(instanceId: string, timeoutMs?: number): Promise<OrchestrationStatus>;
  terminate(instanceId: string, reason?: string): Promise<TerminateResult>;
  purge(instanceId: string): Promise<boolean>;
}

export interface LocalRuntime {
  /** e.g. `http://127.0.0.1:7071` */
  baseUrl: string;
  /** `baseUrl` + `/api` */
  apiBaseUrl: string;
  client: LocalRuntimeClient;
  /** Highest number of activities seen running at once. */
  readonly maxObservedActivityConcurrency: number;
  /** Stops accepting work, waits briefly for running invocations, closes the server. */
  stop(): Promise<void>;
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = options.log ?? (() => undefined);
  const taskHubName = options.taskHubName ?? 'LocalTaskHub';
  const routePrefix = options.routePrefix ?? 'api';

  installFunctionsCoreHook();
  setLogSink((level, _category, message) => {
    if (level === 'warning' || level === 'error' || level === 'critical') {
      log(`[functions] ${message}`);
    }
  });
  // Through the caller's module system on purpose: under jest the app's .ts sources and the
  // `@azure/functions-core` mapping only exist there.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path.resolve(options.appEntry));
  if (!getProgrammingModel()) {
    throw new Error(
      `Loading '${options.appEntry}' registered nothing through @azure/functions: '@azure/functions-core' did not resolve to the local stand-in.`,
    );
  }

  // Known once the server listens (the port may be ephemeral); functions only run after that.
  const endpoint: { clientData?: DurableClientData } = {};
  const invoker = new FunctionInvoker(
    () => endpoint.clientData as DurableClientData,
    log,
    durableTraceFromEnv(process.env),
    activityFaultFromEnv(process.env.LOCAL_FAIL_ACTIVITY),
  );
  // As the worker does when it starts: an app with HTTP streams starts its proxy here.
  const workerHttpUri = (await invoker.capabilities()).HttpUri;
  const engine = new OrchestrationEngine({
    store: new InstanceStore(options.dataDir),
    invoker,
    clock: options.clock ?? realClock,
    maxConcurrentActivities: options.maxConcurrentActivities ?? 8,
    log,
  });
  const timerHost = new TimerHost(invoker, log);
  const hostKey = hostKeyFromEnv(process.env);
  const rpcSecret = randomBytes(16).toString('hex');
  const httpHost = new HttpHost({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    routePrefix,
    invoker,
    workerHttpUri,
    apis: [
      {
        prefix: rpcPrefix(rpcSecret),
        handle: (request) => handleManagementRequest(engine, taskHubName, request, hostKey),
      },
      keyedApi(
        {
          prefix: managementPrefix,
          handle: (request) => handleManagementRequest(engine, taskHubName, request, hostKey),
        },
        hostKey,
      ),
      keyedApi(timerHost.adminApi(), hostKey),
    ],
    log,
  });
  const baseUrl = await httpHost.listen();
  endpoint.clientData = buildClientData(baseUrl, taskHubName, { hostKey, rpcSecret });
  log(hostKeyNotice(hostKey));

  // Without WEBSITE_HOSTNAME, durable-functions rewrites management links to localhost:7071.
  const hostName = new URL(baseUrl).host;
  const ownsHostName = !process.env.WEBSITE_HOSTNAME;
  if (ownsHostName) {
    process.env.WEBSITE_HOSTNAME = hostName;
  }

  engine.recover();
  timerHost.start();
  log(`[local] listening on ${baseUrl} (HTTP functions under /${routePrefix})`);

  return {
    baseUrl,
    apiBaseUrl: `${baseUrl}/${routePrefix}`,
    get maxObservedActivityConcurrency() {
      return engine.maxObservedActivityConcurrency;
    },
    client: {
      start: async (name, input, instanceId) => engine.start(name, input, instanceId),
      getStatus: async (instanceId, statusOptions) => engine.getStatus(instanceId, statusOptions),
      waitForCompletion: (instanceId, timeoutMs) => engine.waitForCompletion(instanceId, timeoutMs),
      terminate: async (instanceId, reason = '') => engine.terminate(instanceId, reason),
      purge: async (instanceId) => engine.purge(instanceId),
    },
    async stop() {
      timerHost.stop();
      await engine.stop();
      await httpHost.close();
      if (workerHttpUri) await closeWorkerProxy(workerHttpUri);
      if (ownsHostName && process.env.WEBSITE_HOSTNAME === hostName) {
        delete process.env.WEBSITE_HOSTNAME;
      }
    },
  };
}
