/** Activity registrations: each maps its durable input to one call into src/export. */
import * as df from 'durable-functions';
import { completeJob, failJob, startJob } from '../../src/export/jobActions';
import type { FailureDetails, PlannedUnit } from '../../src/export/model';
import { runPageStep } from '../../src/export/pageStep';
import { getServices } from '../../src/services';
import { ACTIVITY_COMPLETE_JOB, ACTIVITY_EXPORT_PAGE, ACTIVITY_FAIL_JOB, ACTIVITY_START_JOB } from '../names';

export interface PageInput {
  jobId: string;
  unitId: string;
  /** The unit the lane goes on with (its first page is fetched during this unit's last). */
  nextUnit?: PlannedUnit;
}

df.app.activity(ACTIVITY_START_JOB, {
  handler: async (jobId: string) => startJob((await getServices()).exportDeps, jobId),
});

df.app.activity(ACTIVITY_EXPORT_PAGE, {
  handler: async (input: PageInput) =>
    runPageStep((await getServices()).exportDeps, input.jobId, input.unitId, input.nextUnit),
});

df.app.activity(ACTIVITY_COMPLETE_JOB, {
  handler: async (jobId: string) => completeJob((await getServices()).exportDeps, jobId),
});

df.app.activity(ACTIVITY_FAIL_JOB, {
  handler: async (input: { jobId: string; failure: FailureDetails }) => {
    await failJob((await getServices()).exportDeps, input.jobId, input.failure);
    return { outcome: 'failed' };
  },
});
