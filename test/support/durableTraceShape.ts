/**
 * The shape of a durable runtime's conversation with the app, for comparing the embedded runtime with
 * the real Durable Task extension: which fields each payload and history event carries and of which
 * type, the constants of the orchestration trigger, and the management API's answers. Values that
 * differ from run to run (ids, times, counts) are reduced to their type.
 */
import type { DurableTraceRecord } from '../../dev/runtime/durableTrace';

/** A management API answer as the test received it. */
export interface ManagementAnswer {
  status: number;
  body: unknown;
}

export interface RecordedRun {
  trace: DurableTraceRecord[];
  management: Record<string, ManagementAnswer>;
}

/** `EventType` numbers of DurableTask.Core, as the durable SDK reads them. */
const EVENT_NAMES: Record<number, string> = {
  0: 'ExecutionStarted',
  1: 'ExecutionCompleted',
  2: 'ExecutionFailed',
  3: 'ExecutionTerminated',
  4: 'TaskScheduled',
  5: 'TaskCompleted',
  6: 'TaskFailed',
  7: 'SubOrchestrationInstanceCreated',
  8: 'SubOrchestrationInstanceCompleted',
  9: 'SubOrchestrationInstanceFailed',
  10: 'TimerCreated',
  11: 'TimerFired',
  12: 'OrchestratorStarted',
  13: 'OrchestratorCompleted',
  14: 'EventSent',
  15: 'EventRaised',
  16: 'ContinueAsNew',
  17: 'GenericEvent',
  18: 'HistoryState',
  19: 'ExecutionSuspended',
  20: 'ExecutionResumed',
};

/** The trigger's constants: the same value in every orchestration payload. */
const PAYLOAD_CONSTANTS = [
  'upperSchemaVersion',
  'upperSchemaVersionNew',
  'longRunningTimerIntervalDuration',
  'maximumShortTimerDuration',
  'defaultHttpAsyncRequestSleepTimeMillseconds',
];

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** A value reduced to its type; ISO timestamps and JSON text are told apart from other strings. */
export function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') {
    if (ISO_TIME.test(value)) return 'time';
    return 'string';
  }
  return typeof value;
}

type Signature = Record<string, string[]>;

/** Adds the fields of `object` to `signature`: field name → sorted types seen. */
function addFields(signature: Signature, object: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(object)) {
    const types = new Set(signature[field] ?? []);
    types.add(typeOf(value));
    signature[field] = [...types].sort();
  }
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

function eventName(event: Record<string, unknown>): string {
  const type = event.EventType ?? event.eventType;
  return typeof type === 'number' ? (EVENT_NAMES[type] ?? `EventType ${type}`) : String(type);
}

function parseJson(text: string | undefined): unknown {
  return text === undefined ? undefined : JSON.parse(text);
}

function typedDataKind(data: object | null | undefined): string {
  if (!data) return 'none';
  return Object.keys(data).sort().join('+');
}

interface OrchestrationPayload {
  history: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

/** The shape of the trigger payloads, the orchestrators' answers and the activity inputs. */
function traceShape(trace: DurableTraceRecord[]) {
  const payloadFields: Signature = {};
  const constants: Record<string, unknown[]> = {};
  const historyEvents: Record<string, Signature> = {};
  const episodeStarts = new Set<string>();
  const answerFields: Signature = {};
  const schemaVersions = new Set<unknown>();
  const actionTypes = new Set<number>();
  const triggerData = new Set<string>();
  const activityInputs: Record<string, string[]> = {};

  for (const record of trace) {
    triggerData.add(`${record.trigger}: ${typedDataKind(record.input)}`);
    if (record.trigger === 'activityTrigger') {
      const input = parseJson(record.input?.json ?? undefined);
      const types = new Set(activityInputs[record.function] ?? []);
      types.add(typeOf(input));
      activityInputs[record.function] = [...types].sort();
      continue;
    }
    const payload = JSON.parse(record.input?.string ?? '{}') as OrchestrationPayload;
    const { history, ...rest } = payload;
    addFields(payloadFields, rest);
    for (const name of PAYLOAD_CONSTANTS) {
      const seen = constants[name] ?? [];
      if (!seen.includes(rest[name])) seen.push(rest[name]);
      constants[name] = seen;
    }
    for (const event of history) addFields((historyEvents[eventName(event)] ??= {}), event);
    episodeStarts.add(
      history
        .slice(0, 2)
        .map((e) => eventName(e))
        .join(', '),
    );
    if (record.output) {
      const answer = JSON.parse(record.output.json ?? 'null') as Record<string, unknown>;
      addFields(answerFields, answer);
      schemaVersions.add(answer.schemaVersion);
      for (const group of (answer.actions as Array<Array<{ actionType: number }>>) ?? []) {
        for (const action of group) actionTypes.add(action.actionType);
      }
    }
  }
  return {
    triggerData: [...triggerData].sort(),
    orchestrationPayload: sortedKeys(payloadFields),
    constants: sortedKeys(constants),
    historyEvents: sortedKeys(
      Object.fromEntries(Object.entries(historyEvents).map(([n, s]) => [n, sortedKeys(s)])),
    ),
    episodeStarts: [...episodeStarts].sort(),
    orchestratorAnswer: sortedKeys(answerFields),
    schemaVersions: [...schemaVersions],
    actionTypes: [...actionTypes].sort((a, b) => a - b),
    activityInputs: sortedKeys(activityInputs),
  };
}

/** A management answer reduced to its status, its body's fields and, for a history, its events. */
function answerShape(answer: ManagementAnswer) {
  const body = answer.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { status: answer.status, body: typeOf(body) };
  }
  const fields: Signature = {};
  addFields(fields, body as Record<string, unknown>);
  const history = (body as { historyEvents?: Array<Record<string, unknown>> }).historyEvents;
  if (!history) return { status: answer.status, body: sortedKeys(fields) };
  const events: Record<string, Signature> = {};
  for (const event of history) addFields((events[eventName(event)] ??= {}), event);
  return {
    status: answer.status,
    body: sortedKeys(fields),
    historyEvents: sortedKeys(Object.fromEntries(Object.entries(events).map(([n, s]) => [n, sortedKeys(s)]))),
    historyEnd: history.slice(-2).map((e) => eventName(e)),
  };
}

export function shapeOf(run: RecordedRun) {
  return {
    ...traceShape(run.trace),
    management: sortedKeys(
      Object.fromEntries(Object.entries(run.management).map(([name, answer]) => [name, answerShape(answer)])),
    ),
  };
}

export type RunShape = ReturnType<typeof shapeOf>;
