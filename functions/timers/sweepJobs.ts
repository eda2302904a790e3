/**
 * The sweeper, every five minutes. It repairs the active jobs nobody polls (src/export/jobRepair.ts):
 * one whose orchestration ended without ending it is failed, one whose orchestration never started
 * is started. And it applies retention to ended jobs (src/export/jobRetention.ts): the files of
 * cancelled and expired jobs are deleted, durable history and progress documents purged, and the
 * pinned de-identification configurations of kick-offs that died before creating their job.
 */
import type { InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { isActiveStatus } from '../../src/export/jobLifecycle';
import { applyRetention, deleteOrphanedDeidConfigs } from '../../src/export/jobRetention';
import { getServices } from '../../src/services';
import { mapWithConcurrency } from '../../src/util/concurrency';
import { purgeJobHistory, repairWithOrchestration } from '../durable/jobRepair';
import { TIMER_SWEEP_JOBS } from '../names';

/** Jobs swept at once: each costs a status read and at most a few writes. */
const SWEEP_CONCURRENCY = 4;

async function sweepJobs(_timer: Timer, client: df.DurableClient, context: InvocationContext): Promise<void> {
  const deps = (await getServices()).exportDeps;
  const now = deps.now();
  const historyEndedBefore = new Date(now.getTime() - deps.config.historyRetentionHours * 3600_000);
  const jobs = await deps.jobs.listJobsToSweep(now.toISOString(), historyEndedBefore.toISOString());
  const changed = await mapWithConcurrency(jobs, SWEEP_CONCURRENCY, async (job) => {
    try {
      if (isActiveStatus(job.status)) return (await repairWithOrchestration(client, deps, job)) !== 'none';
      const done = await applyRetention(deps, job, (ended) => purgeJobHistory(client, ended));
      return done.length > 0;
    } catch (error) {
      // One job's trouble does not stop the sweep; the next one tries it again.
      context.warn(
        `Sweeping job ${job.jobId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return false;
    }
  });
  const orphans = await deleteOrphanedDeidConfigs(deps).catch((error: unknown) => {
    context.warn(
      `Deleting orphaned configurations failed: ${error instanceof Error ? error.message : error}`,
    );
    return 0;
  });
  if (orphans > 0) context.log(`Deleted ${orphans} pinned configurations of kick-offs that created no job.`);
  const count = changed.filter(Boolean).length;
  if (count > 0) context.log(`Swept ${jobs.length} jobs; changed ${count}.`);
}

df.app.client.timer(TIMER_SWEEP_JOBS, { schedule: '0 */5 * * * *', handler: sweepJobs });
