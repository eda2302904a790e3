/**
 * The history as the extension's HTTP management API shows it (`showHistory=true`): one entry per
 * step rather than per DurableTask.Core event. Episode markers are left out, a finished task or
 * sub-orchestration is one entry that names its function and when it was scheduled, results are
 * parsed JSON (only with `showHistoryOutput=true`), and the engine's bookkeeping fields are dropped.
 */
import { EventType, type HistoryEvent } from './history';

const namesByNumber = new Map<number, string>(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

const SCHEDULED = new Set<number>([EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated]);
const COMPLETIONS = new Set<number>([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
]);

/** The extension writes offsets (`+00:00`) where DurableTask.Core writes `Z`. */
const withOffset = (timestamp: string): string => timestamp.replace(/Z$/, '+00:00');

function parsedResult(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export interface HistoryViewOptions {
  /** The instance's runtime status, which the extension writes into `ExecutionCompleted`. */
  runtimeStatus: string;
  /** 0 for an orchestration started by a client, null for a sub-orchestration. */
  generation: number | null;
  showHistoryOutput: boolean;
}

export function historyView(
  events: readonly HistoryEvent[],
  options: HistoryViewOptions,
): Record<string, unknown>[] {
  const completedIds = new Set(
    events.filter((e) => COMPLETIONS.has(e.EventType)).map((e) => e.TaskScheduledId),
  );
  const scheduledById = new Map(events.filter((e) => SCHEDULED.has(e.EventType)).map((e) => [e.EventId, e]));
  const result = (text: string | undefined) =>
    options.showHistoryOutput ? { Result: parsedResult(text) } : {};
  const view: Record<string, unknown>[] = [];
  for (const event of events) {
    const name = namesByNumber.get(event.EventType) ?? String(event.EventType);
    const { Timestamp } = event;
    switch (event.EventType) {
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        break;
      case EventType.ExecutionStarted:
        view.push({
          EventType: name,
          Input: event.Input ?? null,
          Correlation: null,
          ParentTraceContext: null,
          ScheduledStartTime: null,
          Generation: options.generation,
          GenerateNewTrace: false,
          Timestamp,
          FunctionName: event.Name,
        });
        break;
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        if (!completedIds.has(event.EventId)) {
          view.push({
            EventType: name,
            Name: event.Name,
            ...(event.InstanceId !== undefined ? { InstanceId: event.InstanceId } : { Version: '' }),
            Input: null,
            ...(event.InstanceId !== undefined ? { ClientSpanId: null } : { ParentTraceContext: null }),
            Tags: null,
            Timestamp,
          });
        }
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const scheduled = scheduledById.get(event.TaskScheduledId ?? -1);
        const outcome =
          event.EventType === EventType.TaskCompleted ||
          event.EventType === EventType.SubOrchestrationInstanceCompleted
            ? result(event.Result)
            : { Reason: event.Reason, Details: event.Details, FailureDetails: null };
        view.push({
          EventType: name,
          ...outcome,
          Timestamp,
          ScheduledTime: scheduled ? withOffset(scheduled.Timestamp) : null,
          FunctionName: scheduled?.Name,
          ...(scheduled?.InstanceId !== undefined ? { InstanceId: scheduled.InstanceId } : {}),
          Input: null,
        });
        break;
      }
      case EventType.TimerCreated:
      case EventType.TimerFired:
        view.push({ EventType: name, FireAt: event.FireAt, Timestamp });
        break;
      case EventType.ExecutionCompleted:
        view.push({
          EventType: name,
          OrchestrationStatus: options.runtimeStatus,
          ...result(event.Result),
          FailureDetails: null,
          Timestamp,
        });
        break;
      case EventType.ExecutionTerminated:
        view.push({ EventType: name, Input: event.Input ?? null, Timestamp });
        break;
      default: {
        const { EventId: _id, IsPlayed: _played, ...rest } = event;
        view.push({ ...rest, EventType: name });
      }
    }
  }
  return view;
}
