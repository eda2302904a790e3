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
