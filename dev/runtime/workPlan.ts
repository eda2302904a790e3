/**
 * Turns what an orchestrator episode decided into work and history: its new actions become
 * activities, sub-orchestrations and timers with their `*Scheduled`/`*Created` events, and a failed
 * task becomes its failure event (with the retry timer the SDK then expects). Pure functions over the
 * instance record; the engine persists and dispatches the result.
 */
import { failureFields, historyEvent, type HistoryEvent, type TaskFailure } from './history';
import type {
  ActivityWork,
  InstanceRecord,
  PendingEvent,
  SubOrchestrationWork,
  TimerWork,
  WorkItem,
} from './instanceStore';
import {
  ActionType,
  decodeProcessedInput,
  describeSignature,
  signatureOf,
  toJsonText,
  type WireAction,
} from './orchestratorProtocol';
import { nextRetryDelay, readRetryPolicy } from './retry';

/**
 * The next batch of pending events for an episode. An event that makes the SDK allocate a sequence
 * number ends the batch, so the host can tell which number it gets: the SDK numbers new actions of the
 * episode first (user code resumed by earlier events), then that event's timer or retry attempt.
 */
export function nextBatch(record: InstanceRecord): PendingEvent[] {
  const end = record.pending.findIndex((p) => p.allocates !== undefined);
  return record.pending.slice(0, end === -1 ? record.pending.length : end + 1);
}

export interface PlannedWork {
  newWork: WorkItem[];
  scheduled: HistoryEvent[];
  /** Set when the episode ended with `continueAsNew`. */
  continueAsNew?: { input: unknown };
  /** Set when the episode asked for something this runtime does not do; the orchestration fails. */
  unsupported?: string;
}

/**
 * Plans the actions the orchestrator took beyond those already recorded, numbering them in the order
 * the SDK does, and records their signatures for the next replay's determinism check.
 */
export function planNewActions(
  record: InstanceRecord,
  actions: readonly WireAction[],
  now: number,
  log: (line: string) => void,
): PlannedWork {
  const plan: PlannedWork = { newWork: [], scheduled: [] };
  const add = (work: WorkItem): void => {
    plan.newWork.push(work);
    plan.scheduled.push(scheduledEvent(work, now));
  };
  for (const action of actions.slice(record.actions.length)) {
    record.actions.push(signatureOf(action));
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        add({
          kind: 'activity',
          id: record.nextSequence++,
          name: action.functionName ?? '',
          input: decodeProcessedInput(action.input),
          retry:
            action.actionType === ActionType.CallActivityWithRetry
              ? { policy: readRetryPolicy(action.retryOptions), attempt: 1, firstAttemptAt: now }
              : undefined,
        });
        break;
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const id = record.nextSequence++;
        add({
          kind: 'subOrchestration',
          id,
          name: action.functionName ?? '',
          // The extension's deterministic default id for sub-orchestrations: "<parent id>:<sequence>".
          instanceId: action.instanceId || `${record.instanceId}:${id}`,
          input: action.input,
          retry:
            action.actionType === ActionType.CallSubOrchestratorWithRetry
              ? { policy: readRetryPolicy(action.retryOptions), attempt: 1, firstAttemptAt: now }
              : undefined,
        });
        break;
      }
      case ActionType.CreateTimer:
        add({ kind: 'timer', id: record.nextSequence++, fireAt: Date.parse(action.fireAt ?? '') || now });
        break;
      case ActionType.ContinueAsNew:
        plan.continueAsNew = { input: decodeProcessedInput(action.input) };
        break;
      case ActionType.WaitForExternalEvent:
        log(
          `[local] '${record.instanceId}' waits for external event '${action.externalEventName}': raising events is not supported locally`,
        );
        break;
      default:
        plan.unsupported = `The local runtime does not support ${describeSignature(signatureOf(action))} (actionType ${action.actionType}).`;
        return plan;
    }
  }
  return plan;
}

/** The work an event of the batch made the SDK number (a timer, or a retry's next attempt), with that number. */
export function allocatedWork(allocating: NonNullable<PendingEvent['allocates']>, id: number): WorkItem {
  return 'timer' in allocating
    ? { ...allocating.timer, kind: 'timer', id }
    : { ...allocating.retryAttempt, id };
}

export function scheduledEvent(work: WorkItem, now: number): HistoryEvent {
  switch (work.kind) {
    case 'activity':
      return historyEvent('TaskScheduled', now, {
        EventId: work.id,
        Name: work.name,
        Input: toJsonText(work.input),
      });
    case 'subOrchestration':
      return historyEvent('SubOrchestrationInstanceCreated', now, {
        EventId: work.id,
        Name: work.name,
        InstanceId: work.instanceId,
        Input: toJsonText(work.input),
      });
    case 'timer':
      return historyEvent('TimerCreated', now, {
        EventId: work.id,
        FireAt: new Date(work.fireAt).toISOString(),
      });
  }
}

/**
 * The failure event of a task. For a retried task the SDK then expects a timer pair before the next
 * attempt (or before giving up), so the failure carries the allocation of that timer.
 */
export function failureEvent(
  work: ActivityWork | SubOrchestrationWork,
  failure: TaskFailure,
  now: number,
): PendingEvent {
  const event = historyEvent(
    work.kind === 'activity' ? 'TaskFailed' : 'SubOrchestrationInstanceFailed',
    now,
    {
      TaskScheduledId: work.id,
      ...failureFields(failure),
    },
  );
  if (!work.retry) {
    return { event };
  }
  const { policy, attempt, firstAttemptAt } = work.retry;
  const delay = nextRetryDelay(policy, attempt, firstAttemptAt, now);
  const { id: _id, ...template } = work;
  const retryOf = {
    ...template,
    retry: {
      policy,
      attempt: attempt + 1,
      firstAttemptAt,
      exhaustedWith: delay === undefined ? failure : undefined,
    },
  };
  const timer: Omit<TimerWork, 'id'> = {
    kind: 'timer',
    fireAt: now + (delay ?? 0),
    retryOf,
    final: attempt >= policy.maxNumberOfAttempts,
  };
  return { event, allocates: { timer } };
}
