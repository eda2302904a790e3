/**
 * The job orchestrator's start, driven step by step through a scripted context (pure logic: the
 * durable runtime itself is exercised by the e2e suites).
 */
import type { OrchestrationContext } from 'durable-functions';
import { exportJob } from '../../../functions/durable/exportJob';
import { ACTIVITY_FAIL_JOB, ACTIVITY_START_JOB } from '../../../functions/names';
import { exportConfigFromEnv } from '../../../src/config';
import type { StartResult } from '../../../src/export/jobActions';
import { defaultOrchestrationSettings } from '../../support/exportRequests';

type Yielded =
  | { kind: 'activity'; name: string; input: unknown }
  | { kind: 'timer'; at: number }
  | { kind: 'lanes' };

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** Runs the orchestrator, answering each start with the next scripted result; returns what it did. */
function run(starts: StartResult[]) {
  const yielded: Yielded[] = [];
  const context = {
    df: {
      getInput: () => ({ jobId: 'job', settings: defaultOrchestrationSettings() }),
      currentUtcDateTime: new Date(NOW),
      callActivityWithRetry: (name: string, _retry: unknown, input: unknown): Yielded => ({
        kind: 'activity',
        name,
        input,
      }),
      callActivity: (name: string, input: unknown): Yielded => ({ kind: 'activity', name, input }),
      createTimer: (at: Date): Yielded => ({ kind: 'timer', at: at.getTime() - NOW }),
      setCustomStatus: () => undefined,
    },
  } as unknown as OrchestrationContext;
  const steps = exportJob(context) as Generator<Yielded, unknown, unknown>;
  let next = steps.next();
  while (!next.done) {
    yielded.push(next.value);
    const step = next.value;
    if (step.kind === 'activity' && step.name === ACTIVITY_START_JOB) {
      const result = starts.shift();
      if (!result) throw new Error('the orchestrator started the job more often than scripted');
      next = steps.next(result);
    } else {
      next = steps.next(
        step.kind === 'activity' && step.name !== ACTIVITY_FAIL_JOB ? { outcome: 'completed' } : undefined,
      );
    }
  }
  return { result: next.value, yielded };
}

describe('exportJob', () => {
  const retry = exportConfigFromEnv({}).retry;

  it('given a start throttled by the source, when the job runs, then it waits the Retry-After on a durable timer and starts again', () => {
    const { result, yielded } = run([
      { outcome: 'throttled', retryAfterSeconds: 7 },
      { outcome: 'started', units: [] },
    ]);
    expect(yielded.slice(0, 3)).toEqual([
      { kind: 'activity', name: ACTIVITY_START_JOB, input: 'job' },
      { kind: 'timer', at: 7_000 },
      { kind: 'activity', name: ACTIVITY_START_JOB, input: 'job' },
    ]);
    expect(result).toMatchObject({ outcome: 'completed' });
  });

  it('given a start throttled every time, when the job runs, then it fails 503 after the throttle budget instead of waiting forever', () => {
    const throttled = Array.from({ length: retry.maxThrottleWaits + 1 }, () => ({
      outcome: 'throttled' as const,
      retryAfterSeconds: 1,
    }));
    const { result, yielded } = run(throttled);
    expect(yielded.filter((y) => y.kind === 'timer')).toHaveLength(retry.maxThrottleWaits);
    expect(result).toMatchObject({ outcome: 'failed', failure: { statusCode: 503 } });
    expect(yielded[yielded.length - 1]).toMatchObject({ kind: 'activity', name: ACTIVITY_FAIL_JOB });
  });
});
