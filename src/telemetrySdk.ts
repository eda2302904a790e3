/**
 * The Application Insights SDK and the OpenTelemetry packages it uses, in one module that
 * `telemetry.ts` loads only when telemetry is on. The deployment package keeps it in a file of its
 * own, so a cold start compiles none of it before the app takes requests.
 */
export * as appInsights from 'applicationinsights';
export * as otelApi from '@opentelemetry/api';
export * as otelResources from '@opentelemetry/resources';
