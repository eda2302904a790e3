/**
 * `exportJob` and its lanes.
 *
 * exportJob  start the job (plans the units: types, and time ranges of large types; a source
 *            that throttles the planning is waited out on durable timers) →
 *            `typeParallelism` lanes, each running one unit after another → complete (manifest),
 *            or leave the job failed with the first failure's details. Every way out of it,
 *            an exception included, ends the job: Completed, Failed or (by the client) Cancelled.
 * exportLane runs its units one after another; a failing unit fails the job at once, so the
 *            other lanes stop at their next page.
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import {
  orchestrationFailed,
  retriesExhausted,
  unitOrchestrationFailed,
} from '../../src/export/failureMapping';
import type { StartResult } from '../../src/export/jobActions';
import type { FailureDetails } from '../../src/export/model';
import { dealIntoLanes } from '../../src/export/rangePlan';
import {
  ACTIVITY_COMPLETE_JOB,
  ACTIVITY_FAIL_JOB,
  ACTIVITY_START_JOB,
  ORCHESTRATOR_EXPORT_LANE,
  ORCHESTRATOR_EXPORT_TYPE,
  laneInstanceId,
  unitInstanceId,
} from '../names';
import { writeJobEnd } from './jobEnd';
import {
  retryOptions,
  throttleTimer,
  type JobInput,
  type LaneInput,
  type UnitInput,
  type UnitResult,
} from './orchestrationInput';

/**
 * One lane of the fan-out. `typeParallelism` lanes run at once under `Task.all`, which bounds the
 * parallelism without re-awaiting tasks of an earlier `Task.any` (the durable SDK would schedule
 * those again).
 */
export const exportLane: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { jobId, units, settings } = context.df.getInput<LaneInput>();
  const results: UnitResult[] = [];
  for (const [index, unit] of units.entries()) {
    const input: UnitInput = {
      jobId,
      unitId: unit.unitId,
      resourceType: unit.resourceType,
      settings,
      pages: 0,
      resources: 0,
      throttleWaits: 0,
    };
    if (index + 1 < units.length) input.next = units[index + 1];
    let result: UnitResult;
    try {
      result = yield context.df.callSubOrchestrator(
        ORCHESTRATOR_EXPORT_TYPE,
        input,
        unitInstanceId(jobId, unit.unitId),
      );
    } catch {
      const { unitId, resourceType, pages, resources } = input;
      const failure = unitOrchestrationFailed(resourceType);
      result = { unitId, resourceType, pages, resources, outcome: 'failed', failure };
    }
    results.push(result);
    if (result.outcome === 'failed') {
      const failure = result.failure ?? unitOrchestrationFailed(result.resourceType);
      yield* writeJobEnd(context, settings, ACTIVITY_FAIL_JOB, { jobId, failure });
    }
    if (result.outcome !== 'done') break;
  }
  return results;
};

/** Per type (ranges summed): the worst outcome, pages and resources, for the job's customStatus. */
export function summariseByType(
  results: UnitResult[],
): Record<string, { state: UnitResult['outcome']; pages: number; resources: number }> {
  const rank = { done: 0, stopped: 1, failed: 2 } as const;
  const summary: Record<string, { state: UnitResult['outcome']; pages: number; resources: number }> = {};
  for (const r of results) {
    const entry = summary[r.resourceType];
    if (!entry) {
      summary[r.resourceType] = { state: r.outcome, pages: r.pages, resources: r.resources };
      continue;
    }
    entry.pages += r.pages;
    entry.resources += r.resources;
    if (rank[r.outcome] > rank[entry.state]) entry.state = r.outcome;
  }
  return summary;
}

export const exportJob: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<JobInput>();
  try {
    return yield* runJob(context, input);
  } catch (error) {
    // Whatever threw (a lane that failed outright, an activity past its retries), the job ends.
    const failure = orchestrationFailed(error);
    yield* writeJobEnd(context, input.settings, ACTIVITY_FAIL_JOB, { jobId: input.jobId, failure });
    context.df.setCustomStatus({ jobId: input.jobId, state: 'failed' });
    return { jobId: input.jobId, outcome: 'failed', failure };
  }
};

function* runJob(context: OrchestrationContext, { jobId, settings }: JobInput) {
  const fail = (failure: FailureDetails) =>
    writeJobEnd(context, settings, ACTIVITY_FAIL_JOB, { jobId, failure });

  let start: StartResult;
  for (let throttleWaits = 0; ; ) {
    try {
      start = yield context.df.callActivityWithRetry(ACTIVITY_START_JOB, retryOptions(settings.retry), jobId);
    } catch {
      const failure = retriesExhausted('Starting the export: the job store, source or destination');
      yield* fail(failure);
      return { jobId, outcome: 'failed', failure };
    }
    if (start.outcome !== 'throttled') break;
    // The source asked for a wait while the job was planned: waited out on a durable timer.
    throttleWaits += 1;
    if (throttleWaits > settings.retry.maxThrottleWaits) {
      const failure = retriesExhausted('Starting the export: the source');
      yield* fail(failure);
      return { jobId, outcome: 'failed', failure };
    }
    yield throttleTimer(context, settings.retry, start.retryAfterSeconds);
  }
  if (start.outcome === 'stopped') return { jobId, outcome: 'stopped' };
  if (start.outcome === 'failed') {
    yield* fail(start.failure);
    return { jobId, outcome: 'failed', failure: start.failure };
  }
  context.df.setCustomStatus({
    jobId,
    types: [...new Set(start.units.map((u) => u.resourceType))].sort(),
    units: start.units.length,
    state: 'running',
  });

  let results: UnitResult[] = [];
  if (start.units.length > 0) {
    const lanes = dealIntoLanes(start.units, settings.typeParallelism).map((units, i) => {
      const lane: LaneInput = { jobId, units, settings };
      return context.df.callSubOrchestrator(ORCHESTRATOR_EXPORT_LANE, lane, laneInstanceId(jobId, i));
    });
    const laneResults: UnitResult[][] = yield context.df.Task.all(lanes);
    results = laneResults.flat();
  }
  const summary = summariseByType(results);
  const failed = results.find((r) => r.outcome === 'failed');
  if (failed) {
    context.df.setCustomStatus({ jobId, types: summary, state: 'failed' });
    return { jobId, outcome: 'failed', failure: failed.failure };
  }
  if (results.some((r) => r.outcome === 'stopped')) {
    context.df.setCustomStatus({ jobId, types: summary, state: 'stopped' });
    return { jobId, outcome: 'stopped' };
  }
  const completed = yield* writeJobEnd<{ outcome: string }>(context, settings, ACTIVITY_COMPLETE_JOB, jobId);
  context.df.setCustomStatus({ jobId, types: summary, state: completed.outcome });
  return { jobId, outcome: completed.outcome };
}
