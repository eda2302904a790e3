/**
 * A record of what a durable runtime hands the app: every orchestrator and activity invocation with
 * its trigger data exactly as received, and what the app answered. Both runtimes write it in the same
 * form (`DURABLE_TRACE_FILE`, one JSON object per line), so that a test can compare the embedded
 * runtime's payloads with the real Durable Task extension's (test/engine/durableTrace).
 */
import { appendFileSync } from 'node:fs';
import type { RpcTypedData } from './functionsCore';

export const DURABLE_TRACE_FILE_VARIABLE = 'DURABLE_TRACE_FILE';

export interface DurableTraceRecord {
  function: string;
  trigger: 'orchestrationTrigger' | 'activityTrigger';
  input: RpcTypedData | undefined;
  /** The returned typed data, or the error the invocation threw. */
  output?: RpcTypedData | null;
  error?: string;
  /** When the invocation began (epoch ms) and how long it took in the app. */
  startedAt?: number;
  ms?: number;
}

export type DurableTrace = (record: DurableTraceRecord) => void;

/** A trace that appends to the file named by `DURABLE_TRACE_FILE`, or none when it is unset. */
export function durableTraceFromEnv(env: NodeJS.ProcessEnv): DurableTrace | undefined {
  const file = env[DURABLE_TRACE_FILE_VARIABLE];
  if (!file) return undefined;
  // Synchronous and one line per call: lines of two processes sharing the file never interleave.
  return (record) => appendFileSync(file, `${JSON.stringify(record)}\n`);
}
