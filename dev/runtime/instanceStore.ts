import { randomUUID } from 'node:crypto';
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

/** A new instance, Pending until its first episode runs. */
export function newInstanceRecord(
  name: string,
  input: unknown,
  instanceId: string,
  parent: ParentLink | undefined,
  nowMs: number,
): InstanceRecord {
  const now = new Date(nowMs).toISOString();
  return {
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
}

/**
 * One append-only log per instance under `{dataDir}/durable/instances/{id}.jsonl`: each save
 * appends the whole record as one JSON line, and loading takes the last line that parses. The
 * engine saves several times per activity, and appending is several times cheaper than rewriting a
 * file and renaming it over the old one. A log past `COMPACT_AFTER_BYTES` is replaced (temp file +
 * rename) by its last record.
 *
 * A line cut short by a crash does not parse and is skipped, so the instance resumes from the save
 * before it, as if the process had died just before that save. Loading rewrites each log as its last
 * good record, so later appends never follow a partial line.
 */
export class InstanceStore {
  private readonly dir: string;
  private tempCounter = 0;
  /** Bytes in each instance's log, as written by this process. */
  private readonly logBytes = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly compactAfterBytes = COMPACT_AFTER_BYTES,
  ) {
    this.dir = path.join(dataDir, 'durable', 'instances');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  save(record: InstanceRecord): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    const bytes = (this.logBytes.get(record.instanceId) ?? 0) + line.length;
    if (bytes > this.compactAfterBytes) {
      this.replace(record.instanceId, line);
    } else {
      fs.appendFileSync(this.fileOf(record.instanceId), line);
      this.logBytes.set(record.instanceId, bytes);
    }
  }

  delete(instanceId: string): void {
    fs.rmSync(this.fileOf(instanceId), { force: true });
    this.logBytes.delete(instanceId);
  }

  loadAll(): InstanceRecord[] {
    const records: InstanceRecord[] = [];
    for (const entry of fs.readdirSync(this.dir)) {
      const file = path.join(this.dir, entry);
      if (entry.endsWith('.tmp')) {
        fs.rmSync(file, { force: true }); // left over from a compaction that never got renamed
        continue;
      }
      if (!entry.endsWith('.jsonl')) continue;
      const log = fs.readFileSync(file, 'utf8');
      const last = lastRecord(log);
      if (!last) {
        fs.rmSync(file, { force: true }); // not even its first save was complete
        continue;
      }
      // A log that is already its last record, whole, stays as it is; anything else is rewritten.
      const whole = `${JSON.stringify(last)}\n`;
      if (log === whole) this.logBytes.set(last.instanceId, Buffer.byteLength(log));
      else this.replace(last.instanceId, Buffer.from(whole, 'utf8'));
      records.push(last);
    }
    return records;
  }

  /** Atomically makes `line` the instance's whole log. */
  private replace(instanceId: string, line: Buffer): void {
    const file = this.fileOf(instanceId);
    const temp = `${file}.${process.pid}.${this.tempCounter++}.tmp`;
    fs.writeFileSync(temp, line);
    fs.renameSync(temp, file);
    this.logBytes.set(instanceId, line.length);
  }

  private fileOf(instanceId: string): string {
    return path.join(this.dir, `${encodeURIComponent(instanceId)}.jsonl`);
  }
}

/** Logs are compacted past this size: large enough to be rare, small enough to load quickly. */
const COMPACT_AFTER_BYTES = 1024 * 1024;

/** The last line of a log that parses as a record (earlier ones are older saves). */
function lastRecord(log: string): InstanceRecord | undefined {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i] === '') continue;
    try {
      return JSON.parse(lines[i]) as InstanceRecord;
    } catch {
      // A save cut short: fall back to the one before it.
    }
  }
  return undefined;
}
