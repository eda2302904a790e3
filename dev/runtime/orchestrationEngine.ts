import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ActivityPool } from './activityPool';
import type { Clock, TimerHandle } from './clock';
import {
  HistoryEvent,
  TaskFailure,
  describeHistory,
  failureFields,
  historyEvent,
  triggerEvent,
  type ExecutionIdentity,
} from './history';
import {
  ActionSignature,
  ActivityWork,
  InstanceRecord,
  InstanceStore,
  ParentLink,
  PendingEvent,
  RuntimeStatus,
  SubOrchestrationWork,
  TimerWork,
  WorkItem,
} from './instanceStore';
import { FunctionInvoker, LogLine, triggerOf, typedDataToJsonText } from './invoker';
import { nextRetryDelay, readRetryPolicy } from './retry';

/**
 * The durable engine: feeds orchestrators their history the way the durable extension does, turns the
 * actions they return into work (activities, timers, sub-orchestrations), and appends the outcomes as
 * new history events. One episode runs at a time per instance; every state change is persisted first.
 */

/** `actionType` numbers of durable-functions (`lib/src/actions/ActionType.js`). */
const ActionType = {
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

interface WireAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: unknown;
  instanceId?: string;
  fireAt?: string;
  externalEventName?: string;
  compoundActions?: WireAction[];
}

interface OrchestratorState {
  isDone: boolean;
  actions: WireAction[][];
  output?: unknown;
  customStatus?: unknown;
  error?: string;
}

export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  parentInstanceId?: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export interface StatusOptions {
  showHistory?: boolean;
  showInput?: boolean;
}

export class UnknownOrchestratorError extends Error {}
export class InstanceConflictError extends Error {}

export type TerminateResult = 'terminated' | 'notFound' | 'notRunning';

export interface EngineOptions {
  store: InstanceStore;
  invoker: FunctionInvoker;
  clock: Clock;
  maxConcurrentActivities: number;
  log: LogLine;
}

const terminalStatuses: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

function isActive(record: InstanceRecord): boolean {
  return !terminalStatuses.has(record.runtimeStatus);
}

function toJsonText(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

/** The SDK JSON-encodes string inputs of activities and continueAsNew (`Utils.processInput`); undo that. */
function decodeProcessedInput(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function flattenActions(actions: WireAction[], into: WireAction[] = []): WireAction[] {
  for (const action of actions) {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      flattenActions(action.compoundActions ?? [], into);
    } else {
      into.push(action);
    }
  }
  return into;
}

function signatureOf(action: WireAction): ActionSignature {
  const name = action.functionName ?? action.externalEventName;
  return name === undefined ? { actionType: action.actionType } : { actionType: action.actionType, name };
}

function describeSignature(signature: ActionSignature | undefined): string {
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
function orchestratorErrorMessage(message: string): string {
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

export class OrchestrationEngine {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly busy = new Set<string>();
  private readonly rerun = new Set<string>();
  private readonly episodes = new Set<Promise<void>>();
  private readonly changes = new EventEmitter();
  private readonly pool: ActivityPool;
  private stopped = false;

  constructor(private readonly options: EngineOptions) {
    this.pool = new ActivityPool(options.maxConcurrentActivities);
    this.changes.setMaxListeners(0);
  }

  /** Highest number of activities that ran at once (for tests of the concurrency bound). */
  get maxObservedActivityConcurrency(): number {
    return this.pool.maxObservedConcurrency;
  }

  /** Loads persisted instances and resumes every unfinished one (work is re-dispatched at least once). */
  recover(): void {
    const records = this.options.store.loadAll();
    for (const record of records) {
      this.instances.set(record.instanceId, record);
    }
    for (const record of records) {
      if (!isActive(record)) {
        continue;
      }
      this.options.log(`[local] resuming ${record.name} '${record.instanceId}'`);
      for (const work of record.work) {
        this.dispatch(record, work);
      }
      this.kick(record.instanceId);
    }
  }

  start(
    name: string,
    input: unknown,
    instanceId: string = randomUUID().replace(/-/g, ''),
    parent?: ParentLink,
  ): string {
    const registration = this.options.invoker.find(name);
    if (!registration || triggerOf(registration)?.binding.type !== 'orchestrationTrigger') {
      throw new UnknownOrchestratorError(
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    }
    const existing = this.instances.get(instanceId);
    if (existing && isActive(existing)) {
      throw new InstanceConflictError(
        `An Orchestration instance with the status ${existing.runtimeStatus} already exists (instance ID '${instanceId}').`,
      );
    }
    if (existing) {
      this.cancelTimers(existing);
    }
    const now = new Date(this.options.clock.now()).toISOString();
    const record: InstanceRecord = {
      instanceId,
      name,
      executionId: randomUUID(),
      input,
      runtimeStatus: 'Pending',
      customStatus: null,
      output: null,
      createdTime: now,
      lastUpdatedTime: now,
      parent,
      history: [],
      pending: [],
      nextSequence: 0,
      actions: [],
      work: [],
    };
    this.instances.set(instanceId, record);
    this.persist(record);
    this.kick(instanceId);
    return instanceId;
  }

  getStatus(instanceId: string, options: StatusOptions = {}): OrchestrationStatus | undefined {
    const record = this.instances.get(instanceId);
    if (!record) {
      return undefined;
    }
    const status: OrchestrationStatus = {
      name: record.name,
      instanceId: record.instanceId,
      ...(record.parent ? { parentInstanceId: record.parent.instanceId } : {}),
      runtimeStatus: record.runtimeStatus,
      input: options.showInput === false ? null : (record.input ?? null),
      customStatus: record.customStatus ?? null,
      output: record.output ?? null,
      createdTime: record.createdTime,
      lastUpdatedTime: record.lastUpdatedTime,
    };
    if (options.showHistory) {
      status.historyEvents = describeHistory(record.history);
    }
    return status;
  }

  /** The current execution's history as stored, in DurableTask.Core's form. */
  history(instanceId: string): { events: readonly HistoryEvent[]; isSubOrchestration: boolean } | undefined {
    const record = this.instances.get(instanceId);
    return record && { events: record.history, isSubOrchestration: record.parent !== undefined };
  }

  private executionIdentity(record: InstanceRecord): ExecutionIdentity {
    const { instanceId, executionId, parent } = record;
    if (!parent) return { instanceId, executionId };
    const parentName = this.instances.get(parent.instanceId)?.name ?? '';
    return {
      instanceId,
      executionId,
      parent: {
        name: parentName,
        instanceId: parent.instanceId,
        executionId: parent.executionId,
        taskScheduleId: parent.taskId,
      },
    };
  }

  list(): OrchestrationStatus[] {
    return [...this.instances.keys()].map((id) => this.getStatus(id) as OrchestrationStatus);
  }

  terminate(instanceId: string, reason: string): TerminateResult {
    const record = this.instances.get(instanceId);
    if (!record) {
      return 'notFound';
    }
    if (!isActive(record)) {
      return 'notRunning';
    }
    const now = this.options.clock.now();
    record.history.push(
      historyEvent('ExecutionTerminated', now, { Input: reason }),
      historyEvent('ExecutionCompleted', now, { Result: JSON.stringify(reason) }),
    );
    this.finish(record, 'Terminated', reason);
    return 'terminated';
  }

  purge(instanceId: string): boolean {
    const record = this.instances.get(instanceId);
    if (!record) {
      return false;
    }
    this.cancelTimers(record);
    this.instances.delete(instanceId);
    this.options.store.delete(instanceId);
    this.changes.emit(instanceId);
    return true;
  }

  /** Resolves with the status once the instance is Completed, Failed or Terminated. */
  async waitForCompletion(instanceId: string, timeoutMs = 30_000): Promise<OrchestrationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = this.getStatus(instanceId);
      if (!status) {
        throw new Error(`No instance with ID '${instanceId}' found.`);
      }
      if (terminalStatuses.has(status.runtimeStatus)) {
        return status;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for '${instanceId}' (status ${status.runtimeStatus}).`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.changes.off(instanceId, done);
          resolve();
        };
        const timer = setTimeout(done, remaining);
        this.changes.on(instanceId, done);
      });
    }
  }

  /** Stops dispatching, disarms timers and waits briefly for running episodes and activities. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    for (const handle of this.timers.values()) {
      handle.cancel();
    }
    this.timers.clear();
    const episodes = Promise.allSettled([...this.episodes]);
    await Promise.all([
      this.pool.drain(timeoutMs),
      Promise.race([episodes, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]),
    ]);
  }

  // ---- episodes ------------------------------------------------------------------------------

  private kick(instanceId: string): void {
    if (this.stopped) {
      return;
    }
    if (this.busy.has(instanceId)) {
      this.rerun.add(instanceId); // picked up when the running episode ends
      return;
    }
    this.busy.add(instanceId);
    const run = (async () => {
      try {
        do {
          this.rerun.delete(instanceId);
          await this.runEpisodes(instanceId);
        } while (this.rerun.has(instanceId) && !this.stopped);
      } catch (error) {
        this.options.log(
          `[local] engine error for '${instanceId}': ${(error as Error).stack ?? String(error)}`,
        );
      } finally {
        this.busy.delete(instanceId);
      }
    })();
    this.episodes.add(run);
    void run.finally(() => this.episodes.delete(run));
  }

  private async runEpisodes(instanceId: string): Promise<void> {
    for (;;) {
      const record = this.instances.get(instanceId);
      if (this.stopped || !record || !isActive(record)) {
        return;
      }
      if (record.history.length > 0 && record.pending.length === 0) {
        return;
      }
      await this.runEpisode(record);
    }
  }

  /**
   * Takes the next batch of pending events. An event that makes the SDK allocate a sequence number
   * ends the batch, so the host can tell which number it gets: the SDK numbers new actions of the
   * episode first (user code resumed by earlier events), then that event's timer or retry attempt.
   */
  private nextBatch(record: InstanceRecord): PendingEvent[] {
    const end = record.pending.findIndex((p) => p.allocates !== undefined);
    return record.pending.slice(0, end === -1 ? record.pending.length : end + 1);
  }

  private async runEpisode(record: InstanceRecord): Promise<void> {
    const now = this.options.clock.now();
    const executionId = record.executionId;
    // Left in `pending` until the episode's outcome is recorded: a save meanwhile (an activity finishing)
    // must not lose these events.
    const batch = this.nextBatch(record);
    const newEvents: HistoryEvent[] = [historyEvent('OrchestratorStarted', now)];
    if (record.history.length === 0) {
      newEvents.push(
        historyEvent('ExecutionStarted', now, { Name: record.name, Input: toJsonText(record.input) }),
      );
    }
    newEvents.push(...batch.map((p) => p.event));
    const execution = this.executionIdentity(record);
    const payload = {
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

    let state: OrchestratorState | undefined;
    let failure: string | undefined;
    const registration = this.options.invoker.find(record.name);
    try {
      if (!registration) {
        throw new Error(`The orchestrator function '${record.name}' is not registered.`);
      }
      const response = await this.options.invoker.invoke(registration, { string: JSON.stringify(payload) });
      state = JSON.parse(typedDataToJsonText(response.returnValue)) as OrchestratorState;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failure = orchestratorErrorMessage(message);
    }

    // Terminated, purged or restarted while the orchestrator ran: its decisions no longer apply.
    if (
      this.stopped ||
      this.instances.get(record.instanceId) !== record ||
      record.executionId !== executionId ||
      !isActive(record)
    ) {
      return;
    }
    record.pending.splice(0, batch.length);
    record.runtimeStatus = 'Running';
    record.history.push(...newEvents);
    if (failure !== undefined || !state) {
      this.failOrchestration(record, failure ?? 'no orchestrator state returned');
      return;
    }
    if (state.customStatus !== undefined) {
      record.customStatus = state.customStatus;
    }

    const actions = flattenActions(state.actions.flat());
    const mismatch = this.findNonDeterminism(record.actions, actions);
    if (mismatch) {
      this.failOrchestration(record, mismatch);
      return;
    }

    const scheduled: HistoryEvent[] = [];
    const newWork: WorkItem[] = [];
    let continueAsNew: { input: unknown } | undefined;
    for (const action of actions.slice(record.actions.length)) {
      record.actions.push(signatureOf(action));
      switch (action.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry: {
          const retry =
            action.actionType === ActionType.CallActivityWithRetry
              ? { policy: readRetryPolicy(action.retryOptions), attempt: 1, firstAttemptAt: now }
              : undefined;
          const work: ActivityWork = {
            kind: 'activity',
            id: record.nextSequence++,
            name: action.functionName ?? '',
            input: decodeProcessedInput(action.input),
            retry,
          };
          newWork.push(work);
          scheduled.push(this.scheduledEvent(work, now));
          break;
        }
        case ActionType.CallSubOrchestrator:
        case ActionType.CallSubOrchestratorWithRetry: {
          const id = record.nextSequence++;
          const retry =
            action.actionType === ActionType.CallSubOrchestratorWithRetry
              ? { policy: readRetryPolicy(action.retryOptions), attempt: 1, firstAttemptAt: now }
              : undefined;
          const work: SubOrchestrationWork = {
            kind: 'subOrchestration',
            id,
            name: action.functionName ?? '',
            // The extension's deterministic default id for sub-orchestrations: "<parent id>:<sequence>".
            instanceId: action.instanceId || `${record.instanceId}:${id}`,
            input: action.input,
            retry,
          };
          newWork.push(work);
          scheduled.push(this.scheduledEvent(work, now));
          break;
        }
        case ActionType.CreateTimer: {
          const work: TimerWork = {
            kind: 'timer',
            id: record.nextSequence++,
            fireAt: Date.parse(action.fireAt ?? '') || now,
          };
          newWork.push(work);
          scheduled.push(this.scheduledEvent(work, now));
          break;
        }
        case ActionType.ContinueAsNew:
          continueAsNew = { input: decodeProcessedInput(action.input) };
          break;
        case ActionType.WaitForExternalEvent:
          this.options.log(
            `[local] '${record.instanceId}' waits for external event '${action.externalEventName}': raising events is not supported locally`,
          );
          break;
        default:
          this.failOrchestration(
            record,
            `The local runtime does not support ${describeSignature(signatureOf(action))} (actionType ${action.actionType}).`,
          );
          return;
      }
    }

    const allocating = batch[batch.length - 1]?.allocates;
    if (allocating) {
      const id = record.nextSequence++;
      const work: WorkItem =
        'timer' in allocating
          ? { ...allocating.timer, kind: 'timer', id }
          : { ...allocating.retryAttempt, id };
      scheduled.push(this.scheduledEvent(work, now));
      newWork.push(work);
    }

    if (continueAsNew) {
      this.continueAsNew(record, continueAsNew.input);
      return;
    }
    if (state.isDone) {
      record.history.push(
        ...scheduled,
        historyEvent('ExecutionCompleted', now, { Result: JSON.stringify(state.output ?? null) }),
        historyEvent('OrchestratorCompleted', now),
      );
      this.finish(record, 'Completed', state.output ?? null);
      return;
    }
    record.history.push(...scheduled, historyEvent('OrchestratorCompleted', now));
    const immediateFailures: Array<[ActivityWork | SubOrchestrationWork, TaskFailure]> = [];
    for (const work of newWork) {
      if (work.kind !== 'timer' && work.retry?.exhaustedWith) {
        immediateFailures.push([work, work.retry.exhaustedWith]); // retry budget spent: fail without running
      } else {
        record.work.push(work);
      }
    }
    for (const [work, taskFailure] of immediateFailures) {
      this.queueFailure(record, work, taskFailure);
    }
    this.persist(record);
    for (const work of newWork) {
      if (record.work.includes(work)) {
        this.dispatch(record, work);
      }
    }
  }

  private findNonDeterminism(recorded: ActionSignature[], replayed: WireAction[]): string | undefined {
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

  private scheduledEvent(work: WorkItem, now: number): HistoryEvent {
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

  private continueAsNew(record: InstanceRecord, input: unknown): void {
    this.cancelTimers(record);
    record.executionId = randomUUID();
    record.input = input;
    record.history = [];
    record.pending = [];
    record.work = [];
    record.actions = [];
    record.nextSequence = 0;
    record.runtimeStatus = 'ContinuedAsNew';
    this.persist(record);
    this.rerun.add(record.instanceId); // the new execution starts in the next loop of kick()
  }

  private failOrchestration(record: InstanceRecord, message: string): void {
    const output = `Orchestrator function '${record.name}' failed: ${message}`;
    record.history.push(
      historyEvent('ExecutionCompleted', this.options.clock.now(), { Result: JSON.stringify(output) }),
    );
    this.finish(record, 'Failed', output);
  }

  private finish(record: InstanceRecord, status: RuntimeStatus, output: unknown): void {
    this.cancelTimers(record);
    record.runtimeStatus = status;
    record.output = output;
    record.work = [];
    record.pending = [];
    this.persist(record);
    this.options.log(`[local] ${record.name} '${record.instanceId}' ${status}`);
    if (record.parent) {
      this.notifyParent(record);
    }
  }

  // ---- work --------------------------------------------------------------------------------------

  private dispatch(record: InstanceRecord, work: WorkItem): void {
    if (this.stopped) {
      return;
    }
    switch (work.kind) {
      case 'activity':
        this.dispatchActivity(record.instanceId, record.executionId, work);
        break;
      case 'timer':
        this.armTimer(record, work);
        break;
      case 'subOrchestration':
        this.ensureChild(record, work);
        break;
    }
  }

  private currentWork<K extends WorkItem['kind']>(
    instanceId: string,
    executionId: string,
    kind: K,
    id: number,
  ): { record: InstanceRecord; work: Extract<WorkItem, { kind: K }> } | undefined {
    const record = this.instances.get(instanceId);
    if (this.stopped || !record || !isActive(record) || record.executionId !== executionId) {
      return undefined;
    }
    const work = record.work.find((w) => w.kind === kind && w.id === id) as
      | Extract<WorkItem, { kind: K }>
      | undefined;
    return work ? { record, work } : undefined;
  }

  private dispatchActivity(instanceId: string, executionId: string, work: ActivityWork): void {
    this.pool.submit(async () => {
      if (!this.currentWork(instanceId, executionId, 'activity', work.id)) {
        return; // terminated or superseded while queued
      }
      let outcome: { result: string } | { failure: TaskFailure };
      const registration = this.options.invoker.find(work.name);
      if (!registration || triggerOf(registration)?.binding.type !== 'activityTrigger') {
        outcome = { failure: { reason: `The activity function '${work.name}' doesn't exist.`, details: '' } };
      } else {
        try {
          const data = work.input === undefined ? undefined : { json: JSON.stringify(work.input) };
          const response = await this.options.invoker.invoke(registration, data);
          outcome = { result: typedDataToJsonText(response.returnValue) };
        } catch (error) {
          outcome = { failure: failureFromError(error) };
        }
      }
      const current = this.currentWork(instanceId, executionId, 'activity', work.id);
      if (!current) {
        this.options.log(
          `[local] ignoring the result of '${work.name}' for '${instanceId}': the instance moved on`,
        );
        return;
      }
      this.removeWork(current.record, current.work);
      if ('result' in outcome) {
        current.record.pending.push({
          event: historyEvent('TaskCompleted', this.options.clock.now(), {
            TaskScheduledId: work.id,
            Result: outcome.result,
          }),
        });
      } else {
        this.queueFailure(current.record, current.work, outcome.failure);
      }
      this.persist(current.record);
      this.kick(instanceId);
    });
  }

  private armTimer(record: InstanceRecord, work: TimerWork): void {
    const { instanceId, executionId } = record;
    const key = this.timerKey(instanceId, executionId, work.id);
    this.timers.get(key)?.cancel();
    const handle = this.options.clock.schedule(work.fireAt, () => {
      this.timers.delete(key);
      const current = this.currentWork(instanceId, executionId, 'timer', work.id);
      if (!current) {
        return;
      }
      this.removeWork(current.record, current.work);
      const event = historyEvent('TimerFired', this.options.clock.now(), {
        TimerId: work.id,
        FireAt: new Date(work.fireAt).toISOString(),
      });
      // After a retry timer the SDK schedules the next attempt (taking a number), unless it was the last.
      const next = work.retryOf && !work.final ? { retryAttempt: work.retryOf } : undefined;
      current.record.pending.push(next ? { event, allocates: next } : { event });
      this.persist(current.record);
      this.kick(instanceId);
    });
    this.timers.set(key, handle);
  }

  /**
   * Starts the sub-orchestration of `work`, or, when it already exists for this very task (after a
   * restart), reports its outcome if it has finished meanwhile.
   */
  private ensureChild(record: InstanceRecord, work: SubOrchestrationWork): void {
    const link: ParentLink = {
      instanceId: record.instanceId,
      executionId: record.executionId,
      taskId: work.id,
    };
    const child = this.instances.get(work.instanceId);
    const ours =
      child?.parent?.instanceId === link.instanceId &&
      child.parent.executionId === link.executionId &&
      child.parent.taskId === link.taskId;
    if (child && ours) {
      if (!isActive(child)) {
        this.notifyParent(child);
      }
      return;
    }
    try {
      this.start(work.name, work.input, work.instanceId, link);
    } catch (error) {
      this.removeWork(record, work);
      this.queueFailure(record, work, failureFromError(error));
      this.persist(record);
      this.kick(record.instanceId);
    }
  }

  private notifyParent(child: InstanceRecord): void {
    const link = child.parent as ParentLink;
    const current = this.currentWork(link.instanceId, link.executionId, 'subOrchestration', link.taskId);
    if (!current || current.work.instanceId !== child.instanceId) {
      return;
    }
    this.removeWork(current.record, current.work);
    if (child.runtimeStatus === 'Completed') {
      current.record.pending.push({
        event: historyEvent('SubOrchestrationInstanceCompleted', this.options.clock.now(), {
          TaskScheduledId: link.taskId,
          Result: JSON.stringify(child.output ?? null),
        }),
      });
    } else {
      const reason =
        typeof child.output === 'string'
          ? child.output
          : `Sub-orchestration '${child.instanceId}' ${child.runtimeStatus}`;
      this.queueFailure(current.record, current.work, { reason, details: '' });
    }
    this.persist(current.record);
    this.kick(link.instanceId);
  }

  /**
   * Queues the failure event of a task. For a retried task the SDK then expects a timer pair before
   * the next attempt (or before giving up), so the failure carries the allocation of that timer.
   */
  private queueFailure(
    record: InstanceRecord,
    work: ActivityWork | SubOrchestrationWork,
    failure: TaskFailure,
  ): void {
    const now = this.options.clock.now();
    const event = historyEvent(
      work.kind === 'activity' ? 'TaskFailed' : 'SubOrchestrationInstanceFailed',
      now,
      {
        TaskScheduledId: work.id,
        ...failureFields(failure),
      },
    );
    if (!work.retry) {
      record.pending.push({ event });
      return;
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
    record.pending.push({
      event,
      allocates: {
        timer: {
          kind: 'timer',
          fireAt: now + (delay ?? 0),
          retryOf,
          final: attempt >= policy.maxNumberOfAttempts,
        },
      },
    });
  }

  private removeWork(record: InstanceRecord, work: WorkItem): void {
    record.work = record.work.filter((w) => w !== work);
  }

  private cancelTimers(record: InstanceRecord): void {
    for (const work of record.work) {
      if (work.kind === 'timer') {
        const key = this.timerKey(record.instanceId, record.executionId, work.id);
        this.timers.get(key)?.cancel();
        this.timers.delete(key);
      }
    }
  }

  private timerKey(instanceId: string, executionId: string, id: number): string {
    return `${instanceId}\n${executionId}\n${id}`;
  }

  private persist(record: InstanceRecord): void {
    if (this.stopped) {
      return; // after stop() nothing more is written: a restart redoes the work (at-least-once)
    }
    record.lastUpdatedTime = new Date(this.options.clock.now()).toISOString();
    this.options.store.save(record);
    this.changes.emit(record.instanceId);
  }
}
