/**
 * The Functions app: importing this module registers every trigger. Azure's worker loads it from
 * package.json `main`; the embedded runtime (dev/runtime) loads the same module.
 */
import { app } from '@azure/functions';
import { flushTelemetry } from '../src/services';
import './durable/activities';
import './durable/orchestrators';
import './http/kickoff';
import './http/jobStatus';
import './http/metadata';
import './http/notFound';
import './timers/sweepJobs';

// Responses (file downloads above all) stream to the client instead of being buffered whole, and
// request bodies arrive as streams.
app.setup({ enableHttpStream: true });

// Buffered telemetry (events of the last second, metrics since the last interval) goes out before
// the worker ends.
app.hook.appTerminate(() => flushTelemetry());
