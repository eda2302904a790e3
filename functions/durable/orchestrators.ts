/**
 * The durable orchestrations. Deterministic by construction: they only call activities, timers and
 * sub-orchestrations, read time from `currentUtcDateTime`, and carry ids and counters, never data.
 *
 * exportJob          start the job → one `exportResourceType` per type, at most `typeParallelism` at
 *                    once → complete (manifest) or fail the job with the first failure's details.
 * exportResourceType loop `exportPage` with a retry policy, wait out throttling with durable timers,
 *                    `continueAsNew` every `pagesPerContinueAsNew` pages.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { exportConfigFromEnv } from '../../src/config';
import { retriesExhausted, UNKNOWN_ERROR } from '../../src/export/failureMapping';
import type { PlannedUnit, StartResult } from '../../src/export/jobActions';
import type { FailureDetails } from '../../src/export/model';
import type { PageStepResult } from '../../src/export/pageStep';
import {
  ACTIVITY_COMPLETE_JOB,
  ACTIVITY_EXPORT_PAGE,
  ACTIVITY_FAIL_JOB,
  ACTIVITY_START_JOB,
  ORCHESTRATOR_EXPORT_JOB,
  ORCHESTRATOR_EXPORT_TYPE,
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

export interface UnitInput {
  jobId: string;
  unitId: string;
  resourceType: string;
  /** Pages done before this execution (carried across continueAsNew). */
  pages: number;
  resources: number;
  /** Throttle waits in a row so far. */
  throttleWaits: number;
}

export interface UnitResult {
  unitId: string;
  resourceType: string;
  outcome: 'done' | 'stopped' | 'failed';
  failure?: FailureDetails;
  pages: number;
  resources: number;
}

export interface UnitStatus {
  resourceType: string;
  pages: number;
  resources: number;
}

const exportResourceType: OrchestrationHandler = function* (context: OrchestrationContext) {
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
      result = yield context.df.callActivityWithRetry(ACTIVITY_EXPORT_PAGE, retryOptions(), {
        jobId: state.jobId,
        unitId: state.unitId,
      });
    } catch {
      return end('failed', retriesExhausted(`Exporting ${state.resourceType}: the source or the destination`));
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
        const waitSeconds = Math.min(Math.max(result.retryAfterSeconds, 1), config.retry.maxThrottleWaitSeconds);
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + waitSeconds * 1000));
        continue;
      }
      case 'written':
        pagesThisRun += 1;
        state.throttleWaits = 0;
        state.pages = result.pages;
        state.resources = result.resources;
        context.df.setCustomStatus({ resourceType: state.resourceType, pages: state.pages, resources: state.resources });
        if (result.done) return end('done');
    }
  }
  // Keep the history short: start over with the counters only; the cursor lives in Cosmos.
  context.df.continueAsNew(state);
  return undefined;
};

export interface JobInput {
  jobId: string;
}

const exportJob: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { jobId } = context.df.getInput<JobInput>();
  const fail = (failure: FailureDetails) => context.df.callActivity(ACTIVITY_FAIL_JOB, { jobId, failure });

  let start: StartResult;
  try {
    start = yield context.df.callActivityWithRetry(ACTIVITY_START_JOB, retryOptions(), jobId);
  } catch {
    yield fail(retriesExhausted('Starting the export: the job store, source or destination'));
    return { jobId, outcome: 'failed' };
  }
  if (start.outcome === 'stopped') return { jobId, outcome: 'stopped' };
  if (start.outcome === 'failed') {
    yield fail(start.failure);
    return { jobId, outcome: 'failed', failure: start.failure };
  }

  const status: Record<string, { state: string; pages: number; resources: number }> = {};
  for (const unit of start.units) status[unit.resourceType] = { state: 'queued', pages: 0, resources: 0 };
  context.df.setCustomStatus({ jobId, types: status });

  const waiting: PlannedUnit[] = [...start.units];
  const running = new Map<Task, PlannedUnit>();
  let failure: FailureDetails | undefined;
  let stopped = false;
  while (running.size > 0 || (waiting.length > 0 && !failure && !stopped)) {
    while (running.size < config.typeParallelism && waiting.length > 0 && !failure && !stopped) {
      const unit = waiting.shift() as PlannedUnit;
      const input: UnitInput = { jobId, unitId: unit.unitId, resourceType: unit.resourceType, pages: 0, resources: 0, throttleWaits: 0 };
      running.set(
        context.df.callSubOrchestrator(ORCHESTRATOR_EXPORT_TYPE, input, unitInstanceId(jobId, unit.unitId)),
        unit,
      );
      status[unit.resourceType].state = 'running';
    }
    context.df.setCustomStatus({ jobId, types: status });
    const finished: Task = yield context.df.Task.any([...running.keys()]);
    const unit = running.get(finished) as PlannedUnit;
    running.delete(finished);
    let result: UnitResult;
    if (finished.isFaulted) {
      result = { unitId: unit.unitId, resourceType: unit.resourceType, outcome: 'failed', failure: UNKNOWN_ERROR, pages: 0, resources: 0 };
    } else {
      result = finished.result as UnitResult;
    }
    status[unit.resourceType] = { state: result.outcome, pages: result.pages, resources: result.resources };
    if (result.outcome === 'stopped') stopped = true;
    if (result.outcome === 'failed' && !failure) {
      // Fail the job now: the units still running see it at their next page and stop.
      failure = result.failure ?? UNKNOWN_ERROR;
      yield fail(failure);
    }
  }
  context.df.setCustomStatus({ jobId, types: status });

  if (failure) return { jobId, outcome: 'failed', failure };
  if (stopped) return { jobId, outcome: 'stopped' };
  const completed: { outcome: string } = yield context.df.callActivityWithRetry(ACTIVITY_COMPLETE_JOB, retryOptions(), jobId);
  return { jobId, outcome: completed.outcome };
};

df.app.orchestration(ORCHESTRATOR_EXPORT_TYPE, exportResourceType);
df.app.orchestration(ORCHESTRATOR_EXPORT_JOB, exportJob);
