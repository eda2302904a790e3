/**
 * What the durable-functions SDK's orchestrator trigger speaks: the payload it is given (history and
 * input, as the durable extension sends them), the actions it answers with, and how a failing
 * orchestrator reports its error. Pure functions; the engine decides what to do with them.
 */
import type { ExecutionIdentity, HistoryEvent, TaskFailure } from './history';
import { triggerEvent } from './history';
import type { ActionSignature, InstanceRecord } from './instanceStore';

/** `actionType` numbers of durable-functions (`lib/src/actions/ActionType.js`). */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  WhenAny: 11,
  WhenAll: 12,
} as const;

const outOfProcDataLabel = '\n\n$OutOfProcData$:';

export interface WireAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: unknown;
  instanceId?: string;
  fireAt?: string;
  externalEventName?: string;
  compoundActions?: WireAction[];
}

export interface OrchestratorState {
  isDone: boolean;
  actions: WireAction[][];
  output?: unknown;
  customStatus?: unknown;
  error?: string;
}

/**
 * The orchestrator trigger's payload for one episode: the past events marked as played, then the new
 * ones, with the schema and timer settings that extension 3.x offers.
 */
export function orchestratorPayload(
  record: InstanceRecord,
  newEvents: readonly HistoryEvent[],
  execution: ExecutionIdentity,
): Record<string, unknown> {
  return {
    history: [
      ...record.history.map((e) => triggerEvent({ ...e, IsPlayed: true }, execution)),
      ...newEvents.map((e) => triggerEvent(e, execution)),
    ],
    input: record.input,
    instanceId: record.instanceId,
    isReplaying: record.history.length > 0,
    parentInstanceId: record.parent?.instanceId ?? null,
    sourceInstanceId: null,
    upperSchemaVersion: 1,
    // ReplaySchema V4 of durable-functions (0-based: V1 is 0), as extension 3.x offers.
    upperSchemaVersionNew: 3,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
}

export function toJsonText(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

/** The SDK JSON-encodes string inputs of activities and continueAsNew (`Utils.processInput`); undo that. */
export function decodeProcessedInput(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

export function flattenActions(actions: WireAction[], into: WireAction[] = []): WireAction[] {
  for (const action of actions) {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      flattenActions(action.compoundActions ?? [], into);
    } else {
      into.push(action);
    }
  }
  return into;
}

export function signatureOf(action: WireAction): ActionSignature {
  const name = action.functionName ?? action.externalEventName;
  return name === undefined ? { actionType: action.actionType } : { actionType: action.actionType, name };
}

export function describeSignature(signature: ActionSignature | undefined): string {
  if (!signature) {
    return 'nothing';
  }
  const type = Object.entries(ActionType).find(([, value]) => value === signature.actionType)?.[0];
  return `${type ?? `action ${signature.actionType}`}${signature.name ? ` '${signature.name}'` : ''}`;
}

/**
 * A failing orchestrator throws `"<orchestratorReturned>\n\n$OutOfProcData$:" + JSON(state)`; the
 * user's error message is in `state.error`.
 */
export function orchestratorErrorMessage(message: string): string {
  const labelAt = message.indexOf(outOfProcDataLabel);
  if (labelAt < 0) {
    return message;
  }
  try {
    const state = JSON.parse(message.slice(labelAt + outOfProcDataLabel.length)) as OrchestratorState;
    if (typeof state.error === 'string') {
      return state.error;
    }
  } catch {
    // fall through to the text before the label
  }
  return message.slice(0, labelAt);
}

/** Turns an error thrown by a function into the Reason/Details (and FailureDetails) of a failure event. */
export function failureFromError(error: unknown): TaskFailure {
  const message = error instanceof Error ? error.message : String(error);
  // With an exception-properties provider registered, durable-functions puts FailureDetails JSON in the message.
  try {
    const parsed = JSON.parse(message) as Record<string, unknown>;
    if (parsed && typeof parsed.errorType === 'string' && typeof parsed.errorMessage === 'string') {
      return {
        reason: parsed.errorMessage,
        details: typeof parsed.stackTrace === 'string' ? parsed.stackTrace : '',
        failureDetails: {
          ErrorType: parsed.errorType,
          ErrorMessage: parsed.errorMessage,
          StackTrace: typeof parsed.stackTrace === 'string' ? parsed.stackTrace : undefined,
          IsNonRetriable: parsed.isNonRetriable === true,
          Properties: (parsed.properties as Record<string, unknown> | undefined) ?? undefined,
        },
      };
    }
  } catch {
    // a plain message
  }
  return { reason: message, details: error instanceof Error && error.stack ? error.stack : '' };
}

export function findNonDeterminism(recorded: ActionSignature[], replayed: WireAction[]): string | undefined {
  for (let i = 0; i < recorded.length; i++) {
    const actual = replayed[i] ? signatureOf(replayed[i]) : undefined;
    if (!actual || actual.actionType !== recorded[i].actionType || actual.name !== recorded[i].name) {
      return (
        `Non-deterministic workflow detected: a previous execution of this orchestration scheduled ` +
        `${describeSignature(recorded[i])} as action #${i}, but the replay ` +
        `${actual ? `scheduled ${describeSignature(actual)}` : 'did not schedule it'}. ` +
        `Orchestrator code must be deterministic.`
      );
    }
  }
  return undefined;
}
