/**
 * The embedded runtime replays real `df.app.orchestration` handlers through the real durable-functions
 * executor. Time is a ManualClock, so timers and retry back-off are driven by the test.
 */
import * as fs from 'node:fs';
import { ManualClock, LocalRuntime, startLocalRuntime } from '../../../dev/runtime/runtime';
import { control } from '../../fixtures/localRuntime/orchestrationApp';
import { fixture, tempDataDir, waitFor } from './helpers';

type HistoryEvents = Array<Record<string, unknown>>;

describe('local durable runtime: orchestrations', () => {
  let runtime: LocalRuntime;
  let clock: ManualClock;
  let dataDir: string;

  beforeAll(async () => {
    clock = new ManualClock(Date.UTC(2024, 0, 1));
    dataDir = tempDataDir('orch');
    runtime = await startLocalRuntime({
      appEntry: fixture('orchestrationApp'),
      dataDir,
      clock,
      maxConcurrentActivities: 3,
    });
  });

  afterAll(async () => {
    await runtime.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const history = async (id: string): Promise<HistoryEvents> =>
    ((await runtime.client.getStatus(id, { showHistory: true }))?.historyEvents ?? []) as HistoryEvents;
  const ofType = (events: HistoryEvents, type: string): HistoryEvents =>
    events.filter((e) => e.EventType === type);
  const gate = (key: string): Promise<(value: string) => void> => waitFor(() => control.gates.get(key));

  test('runs activities in sequence and records the history the extension would', async () => {
    const id = await runtime.client.start('Sequence', ['Tokyo', 'Seattle'], 'seq-1');
    const status = await runtime.client.waitForCompletion(id);

    expect(status).toMatchObject({
      name: 'Sequence',
      instanceId: 'seq-1',
      runtimeStatus: 'Completed',
      input: ['Tokyo', 'Seattle'],
    });
    expect(status.output).toEqual(['Hello Tokyo', 'Hello Seattle']);
    const events = await history(id);
    expect(events.map((e) => e.EventType)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'TaskScheduled',
      'OrchestratorCompleted',
      'OrchestratorStarted',
      'TaskCompleted',
      'ExecutionCompleted',
      // DurableTask.Core closes the last episode after the execution, as in every other episode.
      'OrchestratorCompleted',
    ]);
    expect(ofType(events, 'TaskCompleted').map((e) => [e.TaskScheduledId, e.Result])).toEqual([
      [0, '"Hello Tokyo"'],
      [1, '"Hello Seattle"'],
    ]);
  });

  test('retries with host-side exponential back-off, capped, until an attempt succeeds', async () => {
    control.failuresLeft.set('backoff', 3);
    const id = await runtime.client.start('RetryActivity', {
      key: 'backoff',
      first: 1000,
      attempts: 5,
      coefficient: 2,
      maxInterval: 3000,
    });

    for (const delay of [1000, 2000, 3000]) {
      await clock.waitForTimers(1);
      const attemptsBefore = control.attempts.get('backoff');
      await clock.advance(delay - 1);
      expect(control.attempts.get('backoff')).toBe(attemptsBefore); // not a millisecond early
      await clock.advance(1);
    }
    const status = await runtime.client.waitForCompletion(id);

    expect(status.output).toEqual({ ok: 'ok backoff' });
    expect(control.attempts.get('backoff')).toBe(4);
    const events = await history(id);
    const failedAt = ofType(events, 'TaskFailed').map((e) => Date.parse(e.Timestamp as string));
    const fireAt = ofType(events, 'TimerCreated').map((e) => Date.parse(e.FireAt as string));
    expect(fireAt.map((t, i) => t - failedAt[i])).toEqual([1000, 2000, 3000]);
    // SDK numbering: attempt 0, timer 1, attempt 2, timer 3, attempt 4, timer 5, attempt 6.
    expect(ofType(events, 'TaskScheduled').map((e) => e.EventId)).toEqual([0, 2, 4, 6]);
    expect(ofType(events, 'TimerFired').map((e) => e.TimerId)).toEqual([1, 3, 5]);
  });

  test('surfaces the final failure as a catchable error after the last attempt', async () => {
    control.failuresLeft.set('hopeless', 10);
    const id = await runtime.client.start('RetryActivity', { key: 'hopeless', first: 500, attempts: 3 });
    for (let i = 0; i < 2; i++) {
      await clock.waitForTimers(1);
      await clock.advance(500);
    }
    const status = await runtime.client.waitForCompletion(id);

    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { caught: string }).caught).toContain('flaky failure of hopeless');
    expect(control.attempts.get('hopeless')).toBe(3);
    const events = await history(id);
    expect(ofType(events, 'TaskFailed')).toHaveLength(3);
    expect(ofType(events, 'TimerFired')).toHaveLength(3); // a timer pair after every failed attempt
  });

  test('stops retrying once retryTimeout has elapsed', async () => {
    control.failuresLeft.set('timeout', 10);
    const id = await runtime.client.start('RetryActivity', {
      key: 'timeout',
      first: 1000,
      attempts: 6,
      timeout: 1500,
    });
    for (let i = 0; i < 2; i++) {
      await clock.waitForTimers(1);
      await clock.advance(1000);
    }
    const status = await runtime.client.waitForCompletion(id);

    expect((status.output as { caught: string }).caught).toContain('flaky failure of timeout');
    expect(control.attempts.get('timeout')).toBe(3); // attempts at t=0, 1000, 2000; then the budget is spent
  });

  test('fires durable timers at their fireAt on the injected clock', async () => {
    const id = await runtime.client.start('TimerOrchestrator', 3_600_000);
    await clock.waitForTimers(1);
    const startedAt = clock.now();
    await clock.advance(3_600_000 - 1);
    expect((await runtime.client.getStatus(id))?.runtimeStatus).toBe('Running');
    await clock.advance(1);
    const status = await runtime.client.waitForCompletion(id);

    expect(status.output).toEqual({
      startedAt: new Date(startedAt).toISOString(),
      resumedAt: new Date(startedAt + 3_600_000).toISOString(),
    });
    expect(ofType(await history(id), 'TimerFired')).toHaveLength(1);
  });

  test('runs sub-orchestrations with explicit and generated instance ids', async () => {
    const id = await runtime.client.start('Parent', 'explicit-child', 'parent-1');
    const status = await runtime.client.waitForCompletion(id);

    expect(status.output).toEqual(['Hello a', 'Hello b']);
    expect((await runtime.client.getStatus('explicit-child'))?.runtimeStatus).toBe('Completed');
    expect((await runtime.client.getStatus('parent-1:1'))?.output).toEqual(['Hello b']);
    const created = ofType(await history(id), 'SubOrchestrationInstanceCreated');
    expect(created.map((e) => e.InstanceId)).toEqual(['explicit-child', 'parent-1:1']);
  });

  test('retries a failing sub-orchestration and reports its final failure', async () => {
    control.failuresLeft.set('child-ok', 1);
    const ok = await runtime.client.start('ParentWithRetry', {
      key: 'child-ok',
      first: 100,
      attempts: 3,
      childId: 'retry-child',
    });
    await clock.waitForTimers(1);
    await clock.advance(100);
    expect((await runtime.client.waitForCompletion(ok)).output).toBe('ok child-ok');

    control.failuresLeft.set('child-bad', 10);
    const bad = await runtime.client.start('ParentWithRetry', { key: 'child-bad', first: 100, attempts: 2 });
    await clock.waitForTimers(1);
    await clock.advance(100);
    const status = await runtime.client.waitForCompletion(bad);
    expect((status.output as { caught: string }).caught).toContain('flaky failure of child-bad');
    expect(ofType(await history(bad), 'SubOrchestrationInstanceFailed')).toHaveLength(2);
  });

  test('fans out with Task.all, never running more activities at once than the bound', async () => {
    control.maxRunning = 0;
    const id = await runtime.client.start('FanOut', { count: 10, ms: 20 });
    const status = await runtime.client.waitForCompletion(id);

    expect(status.output).toEqual({
      results: [20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
      hello: 'Hello after fan-out',
    });
    expect(control.maxRunning).toBe(3);
    expect(runtime.maxObservedActivityConcurrency).toBeLessThanOrEqual(3);
    const scheduled = ofType(await history(id), 'TaskScheduled');
    expect(scheduled.map((e) => e.EventId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('retried activities inside Task.all keep the SDK and host sequence numbers in step', async () => {
    control.failuresLeft.set('fan-a', 1);
    control.failuresLeft.set('fan-b', 2);
    const id = await runtime.client.start('RetryFanOut', ['fan-a', 'fan-b', 'fan-c']);
    while ((await runtime.client.getStatus(id))?.runtimeStatus !== 'Completed') {
      await clock.waitForTimers(1, 5000).catch(() => undefined);
      await clock.advance(100);
    }
    const status = await runtime.client.waitForCompletion(id);
    expect(status.output).toEqual(['ok fan-a', 'ok fan-b', 'ok fan-c', 'Hello tail']);
    expect(control.attempts.get('fan-b')).toBe(3);
  });

  test('Task.any resolves with the first task: the activity, or the timer', async () => {
    const fast = await runtime.client.start('Race');
    expect((await runtime.client.waitForCompletion(fast)).output).toEqual({ activity: 5 });

    const slow = await runtime.client.start('Race', 'race-gate');
    await gate('race-gate');
    await clock.waitForTimers(1);
    await clock.advance(3_600_000);
    expect((await runtime.client.waitForCompletion(slow)).output).toBe('timeout');
    control.gates.get('race-gate')?.('late');
  });

  test('continueAsNew starts a fresh execution with the new input', async () => {
    const id = await runtime.client.start('Counter', 0);
    const status = await runtime.client.waitForCompletion(id);

    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      output: 'counted to 3',
      input: 3,
      customStatus: { n: 3 },
    });
    const events = await history(id);
    expect(ofType(events, 'ExecutionStarted').map((e) => e.Input)).toEqual(['3']); // history was reset
    expect(ofType(events, 'TaskScheduled')).toHaveLength(0);
  });

  test('exposes the custom status while running and after completion', async () => {
    const id = await runtime.client.start('CustomStatus', 'cs');
    const release = await gate('cs');
    await waitFor(async () => (await runtime.client.getStatus(id))?.customStatus !== null);
    expect(await runtime.client.getStatus(id)).toMatchObject({
      runtimeStatus: 'Running',
      customStatus: { stage: 'waiting' },
    });
    release('cs');
    const status = await runtime.client.waitForCompletion(id);
    expect(status.customStatus).toEqual({ stage: 'done', key: 'cs' });
  });

  test('an orchestrator that throws ends Failed with its error message as output', async () => {
    const id = await runtime.client.start('Failing');
    const status = await runtime.client.waitForCompletion(id);

    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toBe("Orchestrator function 'Failing' failed: boom in orchestrator");
    expect(String(status.output)).not.toContain('$OutOfProcData$');
  });

  test('a replay that schedules something else than history says fails the instance loudly', async () => {
    control.variant = 'A';
    const id = await runtime.client.start('Shifty');
    const release = await gate('shifty');
    control.variant = 'B';
    release('shifty');
    const status = await runtime.client.waitForCompletion(id);
    control.variant = 'A';

    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain('Non-deterministic workflow detected');
    expect(status.output).toContain("CallActivity 'Gate'");
    expect(status.output).toContain("CallActivity 'Echo'");
  });

  test('terminate ends the instance with the reason, and late activity results are ignored', async () => {
    const id = await runtime.client.start('Waiter', 'term');
    const release = await gate('term');
    expect(await runtime.client.terminate(id, 'no longer needed')).toBe('terminated');
    release('late result');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const status = await runtime.client.getStatus(id, { showHistory: true });
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'no longer needed' });
    expect(ofType(status?.historyEvents as HistoryEvents, 'TaskCompleted')).toHaveLength(0);
    expect(await runtime.client.terminate(id, 'again')).toBe('notRunning');
    expect(await runtime.client.terminate('nope', 'x')).toBe('notFound');
  });

  test('starting a running instance id again is a conflict; a finished one can be restarted', async () => {
    await runtime.client.start('Waiter', 'dup', 'dup-1');
    await gate('dup');
    await expect(runtime.client.start('Waiter', 'dup', 'dup-1')).rejects.toThrow(/already exists/);
    control.gates.get('dup')?.('first');
    expect((await runtime.client.waitForCompletion('dup-1')).output).toBe('first');

    await runtime.client.start('Sequence', ['again'], 'dup-1');
    expect((await runtime.client.waitForCompletion('dup-1')).output).toEqual(['Hello again']);
  });

  test('purge deletes the instance and its history', async () => {
    const id = await runtime.client.start('Sequence', ['purge']);
    await runtime.client.waitForCompletion(id);
    expect(await runtime.client.purge(id)).toBe(true);
    expect(await runtime.client.getStatus(id)).toBeUndefined();
    expect(await runtime.client.purge(id)).toBe(false);
    expect(fs.readdirSync(`${dataDir}/durable/instances`)).not.toContain(`${id}.jsonl`);
  });

  test('unknown orchestrators are refused', async () => {
    await expect(runtime.client.start('NoSuchOrchestrator')).rejects.toThrow(/doesn't exist/);
  });
});
