import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HistoryEvent, TaskFailure } from './history';
import type { RetryPolicy } from './retry';

/** Persisted state of one orchestration instance: enough to resume it after the process dies. */
export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';

export interface RetryState {
  policy: RetryPolicy;
  /** 1-based number of the attempt in flight (or that just failed). */
  attempt: number;
  firstAttemptAt: number;
  /** Set once the retry budget is spent: the SDK's remaining attempts fail at once with this error. */
  exhaustedWith?: TaskFailure;
}

export interface ActivityWork {
  kind: 'activity';
  id: number;
  name: string;
  input: unknown;
  retry?: RetryState;
}

export interface SubOrchestrationWork {
  kind: 'subOrchestration';
  id: number;
  name: string;
  instanceId: string;
  input: unknown;
  retry?: RetryState;
}

export interface TimerWork {
  kind: 'timer';
  id: number;
  fireAt: number;
  /** Set for the timer the host inserts after a failed attempt of a retried task. */
  retryOf?: Omit<ActivityWork, 'id'> | Omit<SubOrchestrationWork, 'id'>;
  /** The retried task's final failure: no attempt follows this timer. */
  final?: boolean;
}

export type WorkItem = ActivityWork | SubOrchestrationWork | TimerWork;

/**
 * A history event waiting for the next episode. `allocates` marks events that make the SDK take a
 * sequence number while processing them (retry timer after a failure, re-scheduled attempt after it).
 */
export interface PendingEvent {
  event: HistoryEvent;
  allocates?:
    | { timer: Omit<TimerWork, 'id'> }
    | { retryAttempt: Omit<ActivityWork, 'id'> | Omit<SubOrchestrationWork, 'id'> };
}

export interface ActionSignature {
  actionType: number;
  name?: string;
}

export interface ParentLink {
  instanceId: string;
  executionId: string;
  taskId: number;
}

export interface InstanceRecord {
  instanceId: string;
  name: string;
  executionId: string;
  input: unknown;
  runtimeStatus: RuntimeStatus;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  parent?: ParentLink;
  history: HistoryEvent[];
  pending: PendingEvent[];
  /** The host's mirror of the SDK's task sequence counter for the current execution. */
  nextSequence: number;
  /** Flattened actions the orchestrator has produced so far (for the replay determinism check). */
  actions: ActionSignature[];
  work: WorkItem[];
}

/** One JSON file per instance under `{dataDir}/durable/instances`, replaced atomically (temp + rename). */
export class InstanceStore {
  private readonly dir: string;
  private tempCounter = 0;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'durable', 'instances');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  save(record: InstanceRecord): void {
    const file = this.fileOf(record.instanceId);
    const temp = `${file}.${process.pid}.${this.tempCounter++}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(record));
    fs.renameSync(temp, file);
  }

  delete(instanceId: string): void {
    fs.rmSync(this.fileOf(instanceId), { force: true });
  }

  loadAll(): InstanceRecord[] {
    const records: InstanceRecord[] = [];
    for (const entry of fs.readdirSync(this.dir)) {
      const file = path.join(this.dir, entry);
      if (entry.endsWith('.tmp')) {
        fs.rmSync(file, { force: true }); // left over from a write that never got renamed
      } else if (entry.endsWith('.json')) {
        records.push(JSON.parse(fs.readFileSync(file, 'utf8')) as InstanceRecord);
      }
    }
    return records;
  }

  private fileOf(instanceId: string): string {
    return path.join(this.dir, `${encodeURIComponent(instanceId)}.json`);
  }
}
