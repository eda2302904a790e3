/**
 * The sweeper: every five minutes, repairs the jobs nobody polls (src/export/jobRepair.ts): an
 * active job whose orchestration ended without ending it is failed, a job whose orchestration never
 * started is started, and a cancellation whose file deletion was interrupted is finished.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../../src/services';
import { mapWithConcurrency } from '../../src/util/concurrency';
import { repairWithOrchestration } from '../durable/jobRepair';
import { TIMER_SWEEP_JOBS } from '../names';

/** Jobs repaired at once: each costs a status read and at most a few writes. */
const SWEEP_CONCURRENCY = 4;

async function sweepJobs(_timer: Timer, client: df.DurableClient, context: InvocationContext): Promise<void> {
  const services = await getServices();
  const jobs = await services.exportDeps.jobs.listJobsToSweep();
  const actions = await mapWithConcurrency(jobs, SWEEP_CONCURRENCY, async (job) => {
    try {
      return await repairWithOrchestration(client, services.exportDeps, job);
    } catch (error) {
      // One job's trouble does not stop the sweep; the next one tries it again.
      context.warn(
        `Sweeping job ${job.jobId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 'none';
    }
  });
  const done = actions.filter((action) => action !== 'none').length;
  if (done > 0) context.log(`Swept ${jobs.length} jobs; repaired ${done}.`);
}

df.app.client.timer(TIMER_SWEEP_JOBS, { schedule: '0 */5 * * * *', handler: sweepJobs });
