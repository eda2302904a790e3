/**
 * Telemetry: a small port the domain emits to, and its two adapters.
 *
 * - `noopTelemetry` when `APPLICATIONINSIGHTS_CONNECTION_STRING` is absent (one log line says so).
 * - `AppInsightsTelemetry` on the `applicationinsights` 3.x SDK otherwise. It uses an *isolated*
 *   `TelemetryClient` (`useGlobalProviders: false`): its own OpenTelemetry providers and exporters,
 *   no `useAzureMonitor()`, so no auto-collection at all (no HTTP requests or dependencies with URLs
 *   and query strings, no console or logger capture, no live metrics). Only what the app tracks by
 *   hand leaves the process. The Functions host still reports invocations on its own.
 *
 * The SDK is loaded only when telemetry is on, so processes without it never pay for it.
 * Nothing outside this file (and telemetrySdk.ts, which loads it) imports the SDK; the domain sees
 * the `Telemetry` interface only.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import type * as OtelApi from '@opentelemetry/api';
import { PLATFORM, platformSettingsFromEnv } from './settings/hostSettings';

/** Custom dimensions: short strings only (identifiers of jobs, types, statuses; never resource data). */
export type TelemetryProperties = Record<string, string>;
/** Custom measurements. */
export type TelemetryMeasurements = Record<string, number>;

export interface TelemetryScope {
  /**
   * Correlates the item with others of the same operation (`operation_Id` in Application Insights).
   * The export uses its job id, so that one query shows a whole export.
   */
  operationId?: string;
}

/** The port. Implementations never throw from `track*`: telemetry must not break an export. */
export interface Telemetry {
  trackEvent(
    name: string,
    properties: TelemetryProperties,
    measurements?: TelemetryMeasurements,
    scope?: TelemetryScope,
  ): void;
  /** One sample of a metric; samples are aggregated (count, sum, min, max) per export interval. */
  trackMetric(name: string, value: number, properties?: TelemetryProperties): void;
  /** Sends what is buffered. Resolves (never rejects) within a bounded time. */
  flush(): Promise<void>;
}

export const noopTelemetry: Telemetry = {
  trackEvent: () => undefined,
  trackMetric: () => undefined,
  flush: () => Promise.resolve(),
};

export const CONNECTION_STRING_SETTING = PLATFORM.appInsightsConnectionString.name;
/** `Authorization=AAD;ClientId=…`: send with an Entra token of a managed identity (local auth off). */
export const AUTHENTICATION_STRING_SETTING = PLATFORM.appInsightsAuthenticationString.name;

/** Operation name given to every event, so exports are easy to tell from host telemetry. */
export const EXPORT_OPERATION_NAME = 'FhirBulkExport';

const FLUSH_TIMEOUT_MS = 5_000;
const DEFAULT_ROLE_NAME = 'durable-fhir-export';

/**
 * Builds the process's telemetry from the environment: App Insights when a connection string is
 * set, else the no-op (with one log line). Call once per process (src/services.ts does).
 */
export async function createTelemetry(
  env: Record<string, string | undefined>,
  log: (line: string) => void,
): Promise<Telemetry> {
  const { appInsightsConnectionString: connectionString, appInsightsAuthenticationString } =
    platformSettingsFromEnv(env);
  if (!connectionString) {
    log(`Application Insights telemetry is off: ${CONNECTION_STRING_SETTING} is not set.`);
    return noopTelemetry;
  }
  try {
    const { appInsights: sdk, otelApi: api, otelResources: resources } = await import('./telemetrySdk');

    const client = new sdk.TelemetryClient(connectionString, { useGlobalProviders: false });
    // `cloud_RoleName`: the function app's name on Azure, the project's name elsewhere.
    client.config.azureMonitorOpenTelemetryOptions = {
      resource: resources.resourceFromAttributes({
        'service.name': env.WEBSITE_SITE_NAME || DEFAULT_ROLE_NAME,
      }),
    };
    const credential = await credentialFrom(appInsightsAuthenticationString);
    if (credential) client.config.aadTokenCredential = credential;
    client.initialize();
    return new AppInsightsTelemetry(client, api, log);
  } catch (error) {
    // A bad connection string must not stop exports: run without telemetry and say why, once.
    log(`Application Insights telemetry is off: ${error instanceof Error ? error.message : String(error)}`);
    return noopTelemetry;
  }
}

/** Entra credential for `Authorization=AAD[;ClientId=…]`, undefined for anything else. */
async function credentialFrom(authenticationString: string | undefined) {
  if (!authenticationString) return undefined;
  const parts = new Map(
    authenticationString
      .split(';')
      .map((p) => p.split('='))
      .filter((kv) => kv.length === 2)
      .map(([k, v]) => [k.trim().toLowerCase(), v.trim()] as const),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  const { ManagedIdentityCredential } = await import('@azure/identity');
  const clientId = parts.get('clientid');
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

type Client = InstanceType<(typeof import('applicationinsights'))['TelemetryClient']>;

export class AppInsightsTelemetry implements Telemetry {
  private readonly storage = new AsyncLocalStorage<OtelApi.Context>();

  constructor(
    private readonly client: Client,
    private readonly api: typeof OtelApi,
    private readonly log: (line: string) => void,
  ) {
    // The exporter takes `operation_Id` from the active OpenTelemetry span context, which needs a
    // context manager. The isolated client registers none; a minimal one is registered here unless
    // the process already has one (then that one is used).
    api.context.setGlobalContextManager(contextManager(this.storage, api.ROOT_CONTEXT));
  }

  trackEvent(
    name: string,
    properties: TelemetryProperties,
    measurements?: TelemetryMeasurements,
    scope?: TelemetryScope,
  ): void {
    this.guard(() => {
      const send = () =>
        this.client.trackEvent({
          name,
          properties: { 'ai.operation.name': EXPORT_OPERATION_NAME, ...properties },
          measurements,
        });
      if (!scope?.operationId) return send();
      const spanContext: OtelApi.SpanContext = {
        traceId: operationTraceId(scope.operationId),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: this.api.TraceFlags.SAMPLED,
        isRemote: true,
      };
      this.api.context.with(this.api.trace.setSpanContext(this.api.ROOT_CONTEXT, spanContext), send);
    });
  }

  trackMetric(name: string, value: number, properties?: TelemetryProperties): void {
    if (!Number.isFinite(value)) return;
    this.guard(() => this.client.trackMetric({ name, value, properties }));
  }

  async flush(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
    } catch (error) {
      this.log(`Telemetry flush failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.log(`Telemetry item dropped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/**
 * The W3C trace id (32 lowercase hex digits) for an operation id: a UUID job id without its dashes,
 * so `operation_Id == replace_string(jobId, '-', '')`; any other id is hashed.
 */
export function operationTraceId(operationId: string): string {
  const hex = operationId.replace(/-/g, '').toLowerCase();
  if (/^[0-9a-f]{32}$/.test(hex) && !/^0+$/.test(hex)) return hex;
  return createHash('sha256').update(operationId).digest('hex').slice(0, 32);
}

/** An AsyncLocalStorage-backed OpenTelemetry context manager (the interface is five methods). */
function contextManager(
  storage: AsyncLocalStorage<OtelApi.Context>,
  root: OtelApi.Context,
): OtelApi.ContextManager {
  const manager: OtelApi.ContextManager = {
    active: () => storage.getStore() ?? root,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (ctx, target) => {
      if (typeof target !== 'function') return target;
      const fn = target as unknown as (...a: unknown[]) => unknown;
      return function (this: unknown, ...a: unknown[]) {
        return storage.run(ctx, () => fn.apply(this, a));
      } as unknown as typeof target;
    },
    enable: () => manager,
    disable: () => {
      storage.disable();
      return manager;
    },
  };
  return manager;
}
