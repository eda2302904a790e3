/**
 * Brings a job's record in line with its orchestration (src/export/jobRepair.ts decides): reads what
 * the durable client reports, and acts on the decision where only the durable client can: starting
 * the orchestration a job never got, or stopping the lanes and units a failed job left running
 * (terminating an orchestration does not stop its sub-orchestrations).
 */
import type * as df from 'durable-functions';
import type { ExportDeps } from '../../src/export/exportDeps';
import { plannedUnitIds } from '../../src/export/jobPlan';
import { repairJob, type OrchestrationState, type RepairAction } from '../../src/export/jobRepair';
import type { ExportJobRecord } from '../../src/export/model';
import { mapWithConcurrency } from '../../src/util/concurrency';
import { ORCHESTRATOR_EXPORT_JOB, jobInstanceIds, jobInstanceLevels } from '../names';
import { jobInputOf } from './orchestrationInput';

/** Terminate or purge requests sent at once for one job's instances. */
const INSTANCE_CONCURRENCY = 8;

export async function orchestrationStateOf(
  client: df.DurableClient,
  instanceId: string,
): Promise<OrchestrationState> {
  let status: df.DurableOrchestrationStatus;
  try {
    status = await client.getStatus(instanceId, { showHistory: false, showInput: false });
  } catch (error) {
    // The client reports an unknown instance only as an error whose message names HTTP 404.
    if (/\b404\b/.test(error instanceof Error ? error.message : String(error))) return 'absent';
    throw error;
  }
  switch (status.runtimeStatus) {
    case 'Pending':
      return 'pending';
    case 'Completed':
      return 'completed';
    case 'Failed':
      return 'failed';
    case 'Terminated':
    case 'Canceled':
      return 'terminated';
    default:
      // Running, ContinuedAsNew, Suspended: the orchestration still owns the job.
      return 'running';
  }
}

/** Repairs `job` (read before this call) against its orchestration; see src/export/jobRepair.ts. */
export async function repairWithOrchestration(
  client: df.DurableClient,
  deps: ExportDeps,
  job: ExportJobRecord,
): Promise<RepairAction> {
  const state = await orchestrationStateOf(client, job.jobId);
  const action = await repairJob(deps, job, state);
  if (action === 'start') {
    try {
      await client.startNew(ORCHESTRATOR_EXPORT_JOB, { instanceId: job.jobId, input: jobInputOf(job) });
    } catch (error) {
      // Another poll or sweep started it first.
      if ((await orchestrationStateOf(client, job.jobId)) === 'absent') throw error;
    }
  }
  if (action === 'failed') await stopJobInstances(client, job, 'The export failed.');
  return action;
}

/** Purges the durable history of every orchestration instance of an ended `job`. */
export async function purgeJobHistory(client: df.DurableClient, job: ExportJobRecord): Promise<void> {
  const ids = jobInstanceIds(job.jobId, plannedUnitIds(job), job.orchestration.typeParallelism);
  await mapWithConcurrency(ids, INSTANCE_CONCURRENCY, async (instanceId) => {
    try {
      await client.purgeInstanceHistory(instanceId);
    } catch (error) {
      // An instance that never existed (a lane the job did not need) or is already purged.
      if (!/\b404\b/.test(error instanceof Error ? error.message : String(error))) throw error;
    }
  });
}

/**
 * Terminates every orchestration instance of `job` that may still run; ended ones are skipped. Each
 * level goes before the next: a child terminated before its parent ends as a failed
 * sub-orchestration, which the parent takes for an export failure and ends `Failed` instead of
 * `Terminated`.
 */
export async function stopJobInstances(
  client: df.DurableClient,
  job: ExportJobRecord,
  reason: string,
): Promise<void> {
  const levels = jobInstanceLevels(job.jobId, plannedUnitIds(job), job.orchestration.typeParallelism);
  for (const level of levels) {
    await mapWithConcurrency(level, INSTANCE_CONCURRENCY, (instanceId) =>
      terminateQuietly(client, instanceId, reason),
    );
  }
}

async function terminateQuietly(client: df.DurableClient, instanceId: string, reason: string) {
  try {
    await client.terminate(instanceId, reason);
  } catch {
    // Already ended or never started: nothing to stop.
  }
}
