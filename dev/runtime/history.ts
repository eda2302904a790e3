/**
 * History events in the shape the durable extension sends to out-of-process SDKs: DTFx PascalCase
 * fields, numeric `EventType` (see durable-functions `lib/src/history/HistoryEventType.js`).
 */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  ContinueAsNew: 16,
} as const;

export type EventTypeName = keyof typeof EventType;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string;
  Result?: string;
  Reason?: string;
  Details?: string;
  FailureDetails?: FailureDetailsPayload;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
}

/** Where an execution sits: what the extension puts into its `ExecutionStarted` event. */
export interface ExecutionIdentity {
  instanceId: string;
  executionId: string;
  parent?: { name: string; instanceId: string; executionId: string; taskScheduleId: number };
}

export interface FailureDetailsPayload {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

/** What a failed activity or sub-orchestration reports back to its orchestrator. */
export interface TaskFailure {
  reason: string;
  details: string;
  failureDetails?: FailureDetailsPayload;
}

export function historyEvent(
  type: EventTypeName,
  timestamp: number,
  fields: Omit<Partial<HistoryEvent>, 'EventType' | 'Timestamp'> = {},
): HistoryEvent {
  return {
    EventId: -1,
    IsPlayed: false,
    ...fields,
    EventType: EventType[type],
    Timestamp: new Date(timestamp).toISOString(),
  };
}

export function failureFields(failure: TaskFailure): Partial<HistoryEvent> {
  return {
    Reason: failure.reason,
    Details: failure.details,
    ...(failure.failureDetails ? { FailureDetails: failure.failureDetails } : {}),
  };
}

const namesByNumber = new Map<number, string>(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

/** Status-API view of the history (named event types, like the extension's `historyEvents`). */
export function describeHistory(events: readonly HistoryEvent[]): Record<string, unknown>[] {
  return events.map((event) => {
    const { EventType: type, IsPlayed: _played, ...rest } = event;
    return { EventType: namesByNumber.get(type) ?? String(type), ...rest };
  });
}

/**
 * An event as the extension serializes it into the orchestration trigger: DurableTask.Core's fields
 * in full, with nulls where the app sets nothing. Inputs of scheduled work are left out (null), as
 * the extension leaves them out: an orchestrator never reads them back.
 */
export function triggerEvent(event: HistoryEvent, execution: ExecutionIdentity): Record<string, unknown> {
  const { EventId, IsPlayed, Timestamp } = event;
  const common = { EventId, IsPlayed, Timestamp };
  switch (event.EventType) {
    case EventType.ExecutionStarted: {
      const parent = execution.parent;
      return {
        OrchestrationInstance: { InstanceId: execution.instanceId, ExecutionId: execution.executionId },
        EventType: event.EventType,
        ParentInstance: parent
          ? {
              Name: parent.name,
              OrchestrationInstance: { InstanceId: parent.instanceId, ExecutionId: parent.executionId },
              TaskScheduleId: parent.taskScheduleId,
              Version: null,
            }
          : null,
        Name: event.Name,
        Version: null,
        Input: event.Input ?? null,
        Tags: null,
        Correlation: null,
        ParentTraceContext: null,
        ScheduledStartTime: null,
        Generation: parent ? null : 0,
        GenerateNewTrace: false,
        ...common,
      };
    }
    case EventType.TaskScheduled:
      return {
        EventType: event.EventType,
        Name: event.Name,
        Version: '',
        Input: null,
        ParentTraceContext: null,
        Tags: null,
        ...common,
      };
    case EventType.SubOrchestrationInstanceCreated:
      return {
        EventType: event.EventType,
        Name: event.Name,
        Version: null,
        InstanceId: event.InstanceId,
        Input: null,
        ClientSpanId: null,
        Tags: null,
        ...common,
      };
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceFailed:
      return { ...event, FailureDetails: event.FailureDetails ?? null };
    default:
      return { ...event };
  }
}
