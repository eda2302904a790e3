/**
 * A job is created before its orchestration is started. A process that dies between the two leaves
 * a Queued job that nothing runs; the next kick-off reuse or status poll of that job starts it.
 */
import type * as df from 'durable-functions';
import type { ExportJobRecord } from '../../src/export/model';
import { ORCHESTRATOR_EXPORT_JOB } from '../names';

/** A kick-off normally starts its orchestration within milliseconds; give it ample time first. */
const START_GRACE_MS = 15_000;

export async function ensureOrchestrationStarted(
  client: df.DurableClient,
  job: ExportJobRecord,
  now: Date,
): Promise<void> {
  if (job.status !== 'Queued' || now.getTime() - Date.parse(job.createdAt) < START_GRACE_MS) return;
  try {
    await client.getStatus(job.jobId);
    return;
  } catch (error) {
    // The client reports an unknown instance only as an error whose message names HTTP 404.
    if (!/\b404\b/.test(error instanceof Error ? error.message : String(error))) throw error;
  }
  await client.startNew(ORCHESTRATOR_EXPORT_JOB, { instanceId: job.jobId, input: { jobId: job.jobId } });
}
