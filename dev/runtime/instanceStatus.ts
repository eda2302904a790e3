/** An instance as the durable management API reports it (`GET …/instances/{id}`). */
import { describeHistory, type ExecutionIdentity } from './history';
import type { InstanceRecord, RuntimeStatus } from './instanceStore';

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

export function statusOf(record: InstanceRecord, options: StatusOptions = {}): OrchestrationStatus {
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

/** Who an execution is, for the history events the orchestrator gets (a sub-orchestration names its parent). */
export function executionIdentityOf(
  record: InstanceRecord,
  nameOf: (instanceId: string) => string,
): ExecutionIdentity {
  const { instanceId, executionId, parent } = record;
  if (!parent) return { instanceId, executionId };
  return {
    instanceId,
    executionId,
    parent: {
      name: nameOf(parent.instanceId),
      instanceId: parent.instanceId,
      executionId: parent.executionId,
      taskScheduleId: parent.taskId,
    },
  };
}
