/**
 * `exportResourceType`: exports one unit (a type, or a time range of one), page after page. Each
 * page is one `exportPage` activity with a retry policy; throttling is waited out on durable timers;
 * after `pagesPerContinueAsNew` pages it continues as new, carrying only its counters (the cursor
 * lives in Cosmos DB).
 */
import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { noProgress, retriesExhausted } from '../../src/export/failureMapping';
import type { FailureDetails } from '../../src/export/model';
import type { PageStepResult } from '../../src/export/pageStep';
import type { PageInput } from './activities';
import { ACTIVITY_EXPORT_PAGE } from '../names';
import { retryOptions, throttleTimer, type UnitInput, type UnitResult } from './orchestrationInput';

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

  for (let pagesThisRun = 0; pagesThisRun < state.settings.pagesPerContinueAsNew; ) {
    let result: PageStepResult;
    try {
      const page: PageInput = { jobId: state.jobId, unitId: state.unitId };
      if (state.next) page.nextUnit = state.next;
      result = yield context.df.callActivityWithRetry(
        ACTIVITY_EXPORT_PAGE,
        retryOptions(state.settings.retry),
        page,
      );
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
        if (state.throttleWaits > state.settings.retry.maxThrottleWaits) {
          return end('failed', retriesExhausted(`Exporting ${state.resourceType}: the source`));
        }
        yield throttleTimer(context, state.settings.retry, result.retryAfterSeconds);
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
        if (state.stalls > state.settings.retry.maxAttempts) {
          return end('failed', noProgress(`Exporting ${state.resourceType}`, state.stalls));
        }
        yield context.df.createTimer(
          new Date(
            context.df.currentUtcDateTime.getTime() +
              state.settings.retry.firstRetryIntervalMs * state.stalls,
          ),
        );
      }
    }
  }
  // Keep the history short: start over with the counters only; the cursor lives in Cosmos.
  context.df.continueAsNew(state);
  return undefined;
};
