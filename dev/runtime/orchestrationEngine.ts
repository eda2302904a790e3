import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from './clock';
import { HistoryEvent, historyEvent, type TaskFailure } from './history';
import {
  newInstanceRecord,
  type InstanceRecord,
  type InstanceStore,
  type ParentLink,
  type RuntimeStatus,
  type WorkItem,
} from './instanceStore';
import { FunctionInvoker, LogLine, triggerOf, typedDataToJsonText } from './invoker';
import {
  findNonDeterminism,
  flattenActions,
  orchestratorErrorMessage,
  orchestratorPayload,
  toJsonText,
  type OrchestratorState,
} from './orchestratorProtocol';
import { allocatedWork, nextBatch, planNewActions, scheduledEvent } from './workPlan';
import {
  executionIdentityOf,
  statusOf,
  type OrchestrationStatus,
  type StatusOptions,
} from './instanceStatus';
import { WorkRunner, isActive, isTerminal, type WorkOwner } from './workRunner';

export type { OrchestrationStatus, StatusOptions } from './instanceStatus';

/**
 * The durable engine: feeds orchestrators their history the way the durable extension does, turns the
 * actions they return into work (run by `WorkRunner`), and appends the outcomes as new history events.
 * One episode runs at a time per instance; every state change is persisted first.
 */

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

export class OrchestrationEngine {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly busy = new Set<string>();
  private readonly rerun = new Set<string>();
  private readonly episodes = new Set<Promise<void>>();
  private readonly changes = new EventEmitter();
  private readonly runner: WorkRunner;
  private stopped = false;

  constructor(private readonly options: EngineOptions) {
    const owner: WorkOwner = {
      instance: (instanceId) => this.instances.get(instanceId),
      isStopped: () => this.stopped,
      persist: (record) => this.persist(record),
      kick: (instanceId) => this.kick(instanceId),
      startChild: (name, input, instanceId, parent) => void this.start(name, input, instanceId, parent),
    };
    this.runner = new WorkRunner(owner, options);
    this.changes.setMaxListeners(0);
  }

  /** Highest number of activities that ran at once (for tests of the concurrency bound). */
  get maxObservedActivityConcurrency(): number {
    return this.runner.maxObservedActivityConcurrency;
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
        this.runner.dispatch(record, work);
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
      this.runner.cancelTimers(existing);
    }
    const record = newInstanceRecord(name, input, instanceId, parent, this.options.clock.now());
    this.instances.set(instanceId, record);
    this.persist(record);
    this.kick(instanceId);
    return instanceId;
  }

  getStatus(instanceId: string, options: StatusOptions = {}): OrchestrationStatus | undefined {
    const record = this.instances.get(instanceId);
    return record && statusOf(record, options);
  }

  /** The current execution's history as stored, in DurableTask.Core's form. */
  history(instanceId: string): { events: readonly HistoryEvent[]; isSubOrchestration: boolean } | undefined {
    const record = this.instances.get(instanceId);
    return record && { events: record.history, isSubOrchestration: record.parent !== undefined };
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
    this.runner.cancelTimers(record);
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
      if (isTerminal(status.runtimeStatus)) {
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
    const episodes = Promise.allSettled([...this.episodes]);
    await Promise.all([
      this.runner.stop(timeoutMs),
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

  private async runEpisode(record: InstanceRecord): Promise<void> {
    const now = this.options.clock.now();
    const executionId = record.executionId;
    // Left in `pending` until the episode's outcome is recorded: a save meanwhile (an activity finishing)
    // must not lose these events.
    const batch = nextBatch(record);
    const newEvents: HistoryEvent[] = [historyEvent('OrchestratorStarted', now)];
    if (record.history.length === 0) {
      newEvents.push(
        historyEvent('ExecutionStarted', now, { Name: record.name, Input: toJsonText(record.input) }),
      );
    }
    newEvents.push(...batch.map((p) => p.event));
    const payload = orchestratorPayload(
      record,
      newEvents,
      executionIdentityOf(record, (id) => this.instances.get(id)?.name ?? ''),
    );

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
    const mismatch = findNonDeterminism(record.actions, actions);
    if (mismatch) {
      this.failOrchestration(record, mismatch);
      return;
    }
    const { newWork, scheduled, continueAsNew, unsupported } = planNewActions(
      record,
      actions,
      now,
      this.options.log,
    );
    if (unsupported) {
      this.failOrchestration(record, unsupported);
      return;
    }
    const allocating = batch[batch.length - 1]?.allocates;
    if (allocating) {
      const work = allocatedWork(allocating, record.nextSequence++);
      scheduled.push(scheduledEvent(work, now));
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
    const immediateFailures: Array<[Exclude<WorkItem, { kind: 'timer' }>, TaskFailure]> = [];
    for (const work of newWork) {
      if (work.kind !== 'timer' && work.retry?.exhaustedWith) {
        immediateFailures.push([work, work.retry.exhaustedWith]); // retry budget spent: fail without running
      } else {
        record.work.push(work);
      }
    }
    for (const [work, taskFailure] of immediateFailures) {
      this.runner.queueFailure(record, work, taskFailure);
    }
    this.persist(record);
    for (const work of newWork) {
      if (record.work.includes(work)) {
        this.runner.dispatch(record, work);
      }
    }
  }

  private continueAsNew(record: InstanceRecord, input: unknown): void {
    this.runner.cancelTimers(record);
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
    this.runner.cancelTimers(record);
    record.runtimeStatus = status;
    record.output = output;
    record.work = [];
    record.pending = [];
    this.persist(record);
    this.options.log(`[local] ${record.name} '${record.instanceId}' ${status}`);
    if (record.parent) {
      this.runner.notifyParent(record);
    }
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
