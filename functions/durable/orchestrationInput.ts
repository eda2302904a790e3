/**
 * What the orchestrations carry from one to the next. Every setting that shapes their decisions comes
 * from the job (fixed at kick-off) through these inputs, never from the environment: a replay after
 * an app setting change must decide exactly as the first run did.
 */
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type {
  ExportJobRecord,
  FailureDetails,
  OrchestrationSettings,
  PlannedUnit,
  RetryPolicy,
} from '../../src/export/model';

export interface JobInput {
  jobId: string;
  settings: OrchestrationSettings;
}

export interface LaneInput {
  jobId: string;
  units: PlannedUnit[];
  settings: OrchestrationSettings;
}

export interface UnitInput {
  jobId: string;
  unitId: string;
  resourceType: string;
  settings: OrchestrationSettings;
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

/** The input of a job's orchestration, from its record. */
export function jobInputOf(job: ExportJobRecord): JobInput {
  return { jobId: job.jobId, settings: job.orchestration };
}

export function retryOptions(retry: RetryPolicy): df.RetryOptions {
  const options = new df.RetryOptions(retry.firstRetryIntervalMs, retry.maxAttempts);
  options.backoffCoefficient = retry.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = retry.maxRetryIntervalMs;
  return options;
}

/** A durable timer for the wait a source asked for (at least 1 s, at most the configured cap). */
export function throttleTimer(
  context: OrchestrationContext,
  retry: RetryPolicy,
  retryAfterSeconds: number,
): df.TimerTask {
  const waitSeconds = Math.min(Math.max(retryAfterSeconds, 1), retry.maxThrottleWaitSeconds);
  return context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + waitSeconds * 1000));
}
