/**
 * Writing a job's end (Completed with its manifest, or Failed with its reason) is what turns the
 * client's polls from 202 into an answer, so it is retried until it holds: rounds of activity
 * retries, with a growing durable timer between rounds, until the job's end deadline. Past it the
 * orchestration fails, and the status endpoint and the sweeper end the job from the outside.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import type { OrchestrationSettings } from '../../src/export/model';
import { retryOptions } from './orchestrationInput';

/** The longest wait between two rounds: long outages are retried every quarter of an hour. */
const MAX_ROUND_WAIT_MS = 15 * 60_000;

export function* writeJobEnd<T>(
  context: OrchestrationContext,
  settings: OrchestrationSettings,
  activity: string,
  input: unknown,
): Generator<Task, T, unknown> {
  const { retry } = settings;
  const deadline = context.df.currentUtcDateTime.getTime() + retry.jobEndDeadlineMinutes * 60_000;
  let wait = retry.maxRetryIntervalMs;
  for (;;) {
    try {
      return (yield context.df.callActivityWithRetry(activity, retryOptions(retry), input)) as T;
    } catch (error) {
      const now = context.df.currentUtcDateTime.getTime();
      if (now >= deadline) throw error;
      yield context.df.createTimer(new Date(Math.min(now + wait, deadline)));
      wait = Math.min(wait * 2, MAX_ROUND_WAIT_MS);
    }
  }
}
