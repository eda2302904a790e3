/**
 * How an app process ends: on SIGINT or SIGTERM, and, when spawned with a stdin pipe by a parent
 * (`npm start`, the engine host, tests), when that pipe closes, however the parent died, so that it
 * never lives on as an orphan. `stop` gets 10 s, then telemetry is flushed.
 */
import { flushTelemetry } from '../../src/services';

export function exitOnShutdown(stop: () => Promise<void>, options: { withStdin: boolean }): void {
  const shutdown = (): void => {
    setTimeout(() => process.exit(1), 10_000).unref();
    void stop()
      .then(() => flushTelemetry())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  if (options.withStdin) {
    process.stdin.on('end', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }
}
