/**
 * The unit orchestrator's decisions, driven step by step through a scripted context (pure logic: the
 * durable runtime itself is exercised by the e2e suites).
 */
import type { OrchestrationContext } from 'durable-functions';
import { exportResourceType } from '../../../functions/durable/exportResourceType';
import type { UnitInput, UnitResult } from '../../../functions/durable/orchestrationInput';
import { exportConfigFromEnv } from '../../../src/config';
import type { PageStepResult } from '../../../src/export/pageStep';
import { defaultOrchestrationSettings } from '../../support/exportRequests';

type Yielded = { kind: 'page'; input: unknown } | { kind: 'timer' };

/** Runs the orchestrator, answering each page step with the next scripted result; returns what it did. */
function run(input: UnitInput, pages: PageStepResult[]) {
  const yielded: Yielded[] = [];
  const context = {
    df: {
      // A copy, as the runtime deserialises it: the orchestrator keeps its counters in its input.
      getInput: () => structuredClone(input),
      currentUtcDateTime: new Date('2026-01-01T00:00:00Z'),
      callActivityWithRetry: (_name: string, _retry: unknown, activityInput: unknown): Yielded => ({
        kind: 'page',
        input: activityInput,
      }),
      createTimer: (): Yielded => ({ kind: 'timer' }),
      setCustomStatus: () => undefined,
      continueAsNew: () => undefined,
    },
  } as unknown as OrchestrationContext;
  const steps = exportResourceType(context) as Generator<Yielded, UnitResult | undefined, unknown>;
  let next = steps.next();
  while (!next.done) {
    yielded.push(next.value);
    if (next.value.kind === 'timer') {
      next = steps.next(undefined);
      continue;
    }
    const result = pages.shift();
    if (!result) throw new Error('the orchestrator asked for more pages than scripted');
    next = steps.next(result);
  }
  return { result: next.value, yielded };
}

const unit: UnitInput = {
  jobId: 'job',
  unitId: 'Patient',
  resourceType: 'Patient',
  settings: defaultOrchestrationSettings(),
  pages: 0,
  resources: 0,
  throttleWaits: 0,
};
const written = (pages: number, done = false): PageStepResult => ({
  outcome: 'written',
  done,
  pageResources: pages === 0 ? 0 : 10,
  resourceType: 'Patient',
  pages,
  resources: pages * 10,
});

describe('exportResourceType', () => {
  const attempts = exportConfigFromEnv({}).retry.maxAttempts;

  it('given pages that advance, when the unit runs, then it is done after the last, with no waits', () => {
    const { result, yielded } = run(unit, [written(1), written(2), written(3, true)]);
    expect(result).toMatchObject({ outcome: 'done', pages: 3, resources: 30 });
    expect(yielded.map((y) => y.kind)).toEqual(['page', 'page', 'page']);
  });

  it('given a page step that ends once on the stored progress (a duplicate delivery), when the unit runs, then it waits once and goes on', () => {
    const { result, yielded } = run(unit, [written(1), written(1), written(2, true)]);
    expect(result).toMatchObject({ outcome: 'done', pages: 2 });
    expect(yielded.map((y) => y.kind)).toEqual(['page', 'page', 'timer', 'page']);
  });

  it('given a page step that always ends on the stored progress, when the unit runs, then it fails with 500 after the configured attempts instead of looping forever', () => {
    const stuck = Array.from({ length: attempts + 1 }, () => written(1));
    const { result, yielded } = run(unit, [written(1), ...stuck]);
    expect(result).toMatchObject({ outcome: 'failed', failure: { statusCode: 500 } });
    expect(result?.failure?.reason).toMatch(/no page could be written in \d+ attempts/);
    expect(yielded.filter((y) => y.kind === 'timer')).toHaveLength(attempts);
  });

  it('given a next unit for the lane, when pages run, then every page step is told about it', () => {
    const next = { unitId: 'Encounter', resourceType: 'Encounter' };
    const { yielded } = run({ ...unit, next }, [written(1), written(2, true)]);
    expect(yielded).toEqual([
      { kind: 'page', input: { jobId: 'job', unitId: 'Patient', nextUnit: next } },
      { kind: 'page', input: { jobId: 'job', unitId: 'Patient', nextUnit: next } },
    ]);
  });
});
