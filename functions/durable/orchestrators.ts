/**
 * The durable orchestrations. Deterministic by construction: they only call activities, timers and
 * sub-orchestrations, read time from `currentUtcDateTime`, and carry ids and counters, never data.
 *
 * exportJob          start the job (plans the units: types, and time ranges of large types; a
 *                    source that throttles the planning is waited out with durable timers) →
 *                    `typeParallelism` lanes (`exportLane`), each running one unit
 *                    (`exportResourceType`) after another → complete (manifest), or leave the job
 *                    failed with the first failure's details.
 * exportResourceType loop `exportPage` with a retry policy, wait out throttling with durable timers,
 *                    `continueAsNew` every `pagesPerContinueAsNew` pages.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { exportConfigFromEnv } from '../../src/config';
import { noProgress, retriesExhausted, unitOrchestrationFailed } from '../../src/export/failureMapping';
import type { StartResult } from '../../src/export/jobActions';
import type { FailureDetails, PlannedUnit } from '../../src/export/model';
import { dealIntoLanes } from '../../src/export/rangePlan';
import type { PageStepResult } from '../../src/export/pageStep';
import type { PageInput } from './activities';
import {
  ACTIVITY_COMPLETE_JOB,
  ACTIVITY_EXPORT_PAGE,
  ACTIVITY_FAIL_JOB,
  ACTIVITY_START_JOB,
  ORCHESTRATOR_EXPORT_JOB,
  ORCHESTRATOR_EXPORT_LANE,
  ORCHESTRATOR_EXPORT_TYPE,
  laneInstanceId,
  unitInstanceId,
} from '../names';

// Read once per process: orchestrator code must see the same settings on every replay.
const config = exportConfigFromEnv(process.env);

function retryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(config.retry.firstRetryIntervalMs, config.retry.maxAttempts);
  options.backoffCoefficient = config.retry.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = config.retry.maxRetryIntervalMs;
  return options;
}

/** A durable timer for the wait a source asked for (at least 1 s, at most the configured cap). */
function throttleTimer(context: OrchestrationContext, retryAfterSeconds: number): df.TimerTask {
  const waitSeconds = Math.min(Math.max(retryAfterSeconds, 1), config.retry.maxThrottleWaitSeconds);
  return context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + waitSeconds * 1000));
}

export interface UnitInput {
  jobId: string;
  unitId: string;
  resourceType: string;
  /** Pages done before this execution (carried across continueAsNew). */
  pages: number;
  resources: number;
  /** Throttle waits in a row so far. */
  throttleWaits: number;
  /** Page steps in a row that ended on the stored progress without advancing it. */
  stalls?: number;
  /** The unit this unit's lane goes on with, if any. */
  next?: PlannedUnit;
}

export interface UnitResult {
  unitId: string;
  resourceType: string;
  outcome: 'done' | 'stopped' | 'failed';
  failure?: FailureDetails;
  pages: number;
  resources: number;
}

export const exportResourceType: OrchestrationHandler = function* (context: OrchestrationContext) {
  const state = context.df.getInput<UnitInput>();
  const end = (outcome: UnitResult['outcome'], failure?: FailureDetails): UnitResult => ({
    unitId: state.unitId,
    resourceType: state.resourceType,
    outcome,
    failure,
    pages: state.pages,
    resources: state.resources,
  });

  for (let pagesThisRun = 0; pagesThisRun < config.pagesPerContinueAsNew; ) {
    let result: PageStepResult;
    try {
      const page: PageInput = { jobId: state.jobId, unitId: state.unitId };
      if (state.next) page.nextUnit = state.next;
      result = yield context.df.callActivityWithRetry(ACTIVITY_EXPORT_PAGE, retryOptions(), page);
    } catch {
      return end(
        'failed',
        retriesExhausted(`Exporting ${state.resourceType}: the source or the destination`),
      );
    }
    switch (result.outcome) {
      case 'stopped':
        return end('stopped');
      case 'failed':
        return end('failed', result.failure);
      case 'throttled': {
        state.throttleWaits += 1;
        if (state.throttleWaits > config.retry.maxThrottleWaits) {
          return end('failed', retriesExhausted(`Exporting ${state.resourceType}: the source`));
        }
        yield throttleTimer(context, result.retryAfterSeconds);
        continue;
      }
      case 'written': {
        pagesThisRun += 1;
        state.throttleWaits = 0;
        const advanced = result.pages > state.pages;
        state.pages = result.pages;
        state.resources = result.resources;
        context.df.setCustomStatus({
          unitId: state.unitId,
          resourceType: state.resourceType,
          pages: state.pages,
          resources: state.resources,
        });
        if (result.done) return end('done');
        if (advanced) {
          state.stalls = 0;
          continue;
        }
        // A duplicate delivery may end once on the stored progress; a page that always does (its
        // commit refused every time) would loop forever: wait, try again, then fail the unit.
        state.stalls = (state.stalls ?? 0) + 1;
        if (state.stalls > config.retry.maxAttempts) {
          return end('failed', noProgress(`Exporting ${state.resourceType}`, state.stalls));
        }
        yield context.df.createTimer(
          new Date(
            context.df.currentUtcDateTime.getTime() + config.retry.firstRetryIntervalMs * state.stalls,
          ),
        );
      }
    }
  }
  // Keep the history short: start over with the counters only; the cursor lives in Cosmos.
  context.df.continueAsNew(state);
  return undefined;
};

export interface LaneInput {
  jobId: string;
  units: PlannedUnit[];
}

/**
 * One lane of the fan-out: exports its units one after another. `typeParallelism` lanes run at once
 * under `Task.all`, which bounds the parallelism without re-awaiting tasks of an earlier `Task.any`
 * (the durable SDK would schedule those again). A failing unit fails the job at once, so the other
 * lanes stop at their next page.
 */
const exportLane: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { jobId, units } = context.df.getInput<LaneInput>();
  const results: UnitResult[] = [];
  for (const [index, unit] of units.entries()) {
    const input: UnitInput = {
      jobId,
      unitId: unit.unitId,
      resourceType: unit.resourceType,
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
      yield context.df.callActivity(ACTIVITY_FAIL_JOB, { jobId, failure });
    }
    if (result.outcome !== 'done') break;
  }
  return results;
};

export interface JobInput {
  jobId: string;
}

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
  const { jobId } = context.df.getInput<JobInput>();
  const fail = (failure: FailureDetails) => context.df.callActivity(ACTIVITY_FAIL_JOB, { jobId, failure });

  let start: StartResult;
  for (let throttleWaits = 0; ; ) {
    try {
      start = yield context.df.callActivityWithRetry(ACTIVITY_START_JOB, retryOptions(), jobId);
    } catch {
      yield fail(retriesExhausted('Starting the export: the job store, source or destination'));
      return { jobId, outcome: 'failed' };
    }
    if (start.outcome !== 'throttled') break;
    throttleWaits += 1;
    if (throttleWaits > config.retry.maxThrottleWaits) {
      const failure = retriesExhausted('Starting the export: the source');
      yield fail(failure);
      return { jobId, outcome: 'failed', failure };
    }
    yield throttleTimer(context, start.retryAfterSeconds);
  }
  if (start.outcome === 'stopped') return { jobId, outcome: 'stopped' };
  if (start.outcome === 'failed') {
    yield fail(start.failure);
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
    const lanes = dealIntoLanes(start.units, config.typeParallelism).map((units, i) =>
      context.df.callSubOrchestrator(ORCHESTRATOR_EXPORT_LANE, { jobId, units }, laneInstanceId(jobId, i)),
    );
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
  const completed: { outcome: string } = yield context.df.callActivityWithRetry(
    ACTIVITY_COMPLETE_JOB,
    retryOptions(),
    jobId,
  );
  context.df.setCustomStatus({ jobId, types: summary, state: completed.outcome });
  return { jobId, outcome: completed.outcome };
};

df.app.orchestration(ORCHESTRATOR_EXPORT_TYPE, exportResourceType);
df.app.orchestration(ORCHESTRATOR_EXPORT_LANE, exportLane);
df.app.orchestration(ORCHESTRATOR_EXPORT_JOB, exportJob);
