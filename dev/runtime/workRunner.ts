/**
 * Runs the work an orchestration has scheduled: activities in the bounded pool, durable timers on the
 * clock, sub-orchestrations as child instances. Each outcome becomes a pending history event of the
 * instance it belongs to (if that instance still waits for it) and wakes that instance.
 */
import { ActivityPool } from './activityPool';
import type { Clock, TimerHandle } from './clock';
import { historyEvent, type TaskFailure } from './history';
import type {
  ActivityWork,
  InstanceRecord,
  ParentLink,
  RuntimeStatus,
  SubOrchestrationWork,
  TimerWork,
  WorkItem,
} from './instanceStore';
import { FunctionInvoker, LogLine, triggerOf, typedDataToJsonText } from './invoker';
import { failureFromError } from './orchestratorProtocol';
import { failureEvent } from './workPlan';

const terminalStatuses: ReadonlySet<RuntimeStatus> = new Set(['Completed', 'Failed', 'Terminated']);

export function isActive(record: InstanceRecord): boolean {
  return !terminalStatuses.has(record.runtimeStatus);
}

export function isTerminal(status: RuntimeStatus): boolean {
  return terminalStatuses.has(status);
}

/** What the runner needs of the engine that owns the instances. */
export interface WorkOwner {
  instance(instanceId: string): InstanceRecord | undefined;
  isStopped(): boolean;
  /** Saves the record and tells waiters it changed. */
  persist(record: InstanceRecord): void;
  /** Runs the instance's next episode (now, or after the running one). */
  kick(instanceId: string): void;
  /** Starts a child instance; throws as `start` does. */
  startChild(name: string, input: unknown, instanceId: string, parent: ParentLink): void;
}

export interface WorkRunnerOptions {
  invoker: FunctionInvoker;
  clock: Clock;
  maxConcurrentActivities: number;
  log: LogLine;
}

export class WorkRunner {
  private readonly timers = new Map<string, TimerHandle>();
  private readonly pool: ActivityPool;

  constructor(
    private readonly owner: WorkOwner,
    private readonly options: WorkRunnerOptions,
  ) {
    this.pool = new ActivityPool(options.maxConcurrentActivities);
  }

  get maxObservedActivityConcurrency(): number {
    return this.pool.maxObservedConcurrency;
  }

  dispatch(record: InstanceRecord, work: WorkItem): void {
    if (this.owner.isStopped()) {
      return;
    }
    switch (work.kind) {
      case 'activity':
        this.runActivity(record.instanceId, record.executionId, work);
        break;
      case 'timer':
        this.armTimer(record, work);
        break;
      case 'subOrchestration':
        this.ensureChild(record, work);
        break;
    }
  }

  /** Queues the failure of a task on its instance (the caller persists and kicks). */
  queueFailure(
    record: InstanceRecord,
    work: ActivityWork | SubOrchestrationWork,
    failure: TaskFailure,
  ): void {
    record.pending.push(failureEvent(work, failure, this.options.clock.now()));
  }

  /** Reports a finished child to its parent, if the parent still waits for it. */
  notifyParent(child: InstanceRecord): void {
    const link = child.parent as ParentLink;
    const current = this.currentWork(link.instanceId, link.executionId, 'subOrchestration', link.taskId);
    if (!current || current.work.instanceId !== child.instanceId) {
      return;
    }
    removeWork(current.record, current.work);
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
    this.owner.persist(current.record);
    this.owner.kick(link.instanceId);
  }

  cancelTimers(record: InstanceRecord): void {
    for (const work of record.work) {
      if (work.kind === 'timer') {
        const key = timerKey(record.instanceId, record.executionId, work.id);
        this.timers.get(key)?.cancel();
        this.timers.delete(key);
      }
    }
  }

  /** Disarms every timer and waits up to `timeoutMs` for running activities. */
  async stop(timeoutMs: number): Promise<void> {
    for (const handle of this.timers.values()) {
      handle.cancel();
    }
    this.timers.clear();
    await this.pool.drain(timeoutMs);
  }

  /** The work item if its instance is still running that execution and still waits for it. */
  private currentWork<K extends WorkItem['kind']>(
    instanceId: string,
    executionId: string,
    kind: K,
    id: number,
  ): { record: InstanceRecord; work: Extract<WorkItem, { kind: K }> } | undefined {
    const record = this.owner.instance(instanceId);
    if (this.owner.isStopped() || !record || !isActive(record) || record.executionId !== executionId) {
      return undefined;
    }
    const work = record.work.find((w) => w.kind === kind && w.id === id) as
      | Extract<WorkItem, { kind: K }>
      | undefined;
    return work ? { record, work } : undefined;
  }

  private runActivity(instanceId: string, executionId: string, work: ActivityWork): void {
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
      removeWork(current.record, current.work);
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
      this.owner.persist(current.record);
      this.owner.kick(instanceId);
    });
  }

  private armTimer(record: InstanceRecord, work: TimerWork): void {
    const { instanceId, executionId } = record;
    const key = timerKey(instanceId, executionId, work.id);
    this.timers.get(key)?.cancel();
    const handle = this.options.clock.schedule(work.fireAt, () => {
      this.timers.delete(key);
      const current = this.currentWork(instanceId, executionId, 'timer', work.id);
      if (!current) {
        return;
      }
      removeWork(current.record, current.work);
      const event = historyEvent('TimerFired', this.options.clock.now(), {
        TimerId: work.id,
        FireAt: new Date(work.fireAt).toISOString(),
      });
      // After a retry timer the SDK schedules the next attempt (taking a number), unless it was the last.
      const next = work.retryOf && !work.final ? { retryAttempt: work.retryOf } : undefined;
      current.record.pending.push(next ? { event, allocates: next } : { event });
      this.owner.persist(current.record);
      this.owner.kick(instanceId);
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
    const child = this.owner.instance(work.instanceId);
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
      this.owner.startChild(work.name, work.input, work.instanceId, link);
    } catch (error) {
      removeWork(record, work);
      this.queueFailure(record, work, failureFromError(error));
      this.owner.persist(record);
      this.owner.kick(record.instanceId);
    }
  }
}

function removeWork(record: InstanceRecord, work: WorkItem): void {
  record.work = record.work.filter((w) => w !== work);
}

function timerKey(instanceId: string, executionId: string, id: number): string {
  return `${instanceId}\n${executionId}\n${id}`;
}
