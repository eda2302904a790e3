/** Names of the durable functions, shared by the registrations and their callers. */
export const ORCHESTRATOR_EXPORT_JOB = 'exportJob';
export const ORCHESTRATOR_EXPORT_LANE = 'exportLane';
export const ORCHESTRATOR_EXPORT_TYPE = 'exportResourceType';
export const ACTIVITY_START_JOB = 'startExportJob';
export const ACTIVITY_EXPORT_PAGE = 'exportPage';
export const ACTIVITY_COMPLETE_JOB = 'completeExportJob';
export const ACTIVITY_FAIL_JOB = 'failExportJob';
export const TIMER_SWEEP_JOBS = 'sweepJobs';

/** Instance id of the sub-orchestration that exports one unit of a job. */
export function unitInstanceId(jobId: string, unitId: string): string {
  return `${jobId}:${unitId}`;
}

/** Instance id of lane `index` of a job's fan-out. */
export function laneInstanceId(jobId: string, index: number): string {
  return `${jobId}:lane-${index}`;
}

/**
 * Every instance a job may have running, parents before children: the job, its lanes, and its units
 * (`unitIds`: a type, or `Type.rN` for a range of a split type).
 */
export function jobInstanceLevels(jobId: string, unitIds: string[], lanes: number): string[][] {
  const laneCount = Math.min(lanes, unitIds.length);
  return [
    [jobId],
    Array.from({ length: laneCount }, (_, i) => laneInstanceId(jobId, i)),
    unitIds.map((unitId) => unitInstanceId(jobId, unitId)),
  ];
}

/** Every instance a job may have running: the job, its lanes and its units. */
export function jobInstanceIds(jobId: string, unitIds: string[], lanes: number): string[] {
  return jobInstanceLevels(jobId, unitIds, lanes).flat();
}
