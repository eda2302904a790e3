/**
 * Repairs jobs whose record no longer matches their orchestration. The record is written by the
 * orchestration's activities; when the orchestration ends without them (it failed past every retry,
 * an operator terminated or purged it, it never started), the record would say Queued or Running
 * forever. The status endpoint and the sweeper call this with what the durable client reports.
 */
import type { ExportDeps } from './exportDeps';
import { orchestrationEnded, type OrchestrationEnd } from './failureMapping';
import { failJob } from './jobActions';
import { isActiveStatus } from './jobLifecycle';
import type { ExportJobRecord } from './model';

/** The orchestration of a job as the durable client reports it; `absent` when it has no instance. */
export type OrchestrationState = 'pending' | 'running' | OrchestrationEnd | 'absent';

/** What a repair did: nothing, the job needs its orchestration started, or the job was failed. */
export type RepairAction = 'none' | 'start' | 'failed';

/** A kick-off starts its orchestration within milliseconds of creating the job; give it ample time. */
export const START_GRACE_MS = 15_000;

/**
 * Decides and writes the repair of `job`, given the state of its orchestration read after `job`
 * was. The Failed write re-reads the record and leaves a job that ended meanwhile as it is, so an
 * orchestration that completes between the two reads is never overruled.
 */
export async function repairJob(
  deps: ExportDeps,
  job: ExportJobRecord,
  orchestration: OrchestrationState,
): Promise<RepairAction> {
  if (!isActiveStatus(job.status)) return 'none';
  switch (orchestration) {
    case 'pending':
    case 'running':
      return 'none';
    case 'absent':
      if (job.status === 'Queued') {
        const age = deps.now().getTime() - Date.parse(job.createdAt);
        return age < START_GRACE_MS ? 'none' : 'start';
      }
      await failJob(deps, job.jobId, orchestrationEnded('gone'));
      return 'failed';
    default:
      await failJob(deps, job.jobId, orchestrationEnded(orchestration));
      return 'failed';
  }
}
