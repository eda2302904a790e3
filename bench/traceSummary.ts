/**
 * Where an export's wall time goes on the real engine, from the runtime's invocation trace
 * (`DURABLE_TRACE_FILE`): time in activities (the pages' own work), time in orchestrator episodes
 * (replaying history in the SDK), and the rest of the lanes' time, which the engine spends between
 * invocations (queue polling, history and queue round trips to storage, dispatch).
 */
import { readFileSync } from 'node:fs';
import type { DurableTraceRecord } from '../dev/runtime/durableTrace';

export interface TraceSummary {
  activities: number;
  activitySeconds: number;
  episodes: number;
  episodeSeconds: number;
  /** Bytes of orchestration trigger payloads (history and input) handed to the app. */
  payloadBytes: number;
  largestPayloadBytes: number;
  /** Lane-seconds of the export not spent inside the app: lanes × wall time − activity time. */
  engineGapSeconds: number;
  /** Engine time per page step, between one page's activity and the next on a lane. */
  gapPerPageMs: number;
}

export function summariseTrace(
  traceFile: string,
  window: { from: number; to: number },
  lanes: number,
): TraceSummary {
  const records = readFileSync(traceFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as DurableTraceRecord)
    .filter((r) => (r.startedAt ?? 0) >= window.from && (r.startedAt ?? 0) <= window.to);
  const activities = records.filter((r) => r.trigger === 'activityTrigger');
  const episodes = records.filter((r) => r.trigger === 'orchestrationTrigger');
  const seconds = (list: DurableTraceRecord[]) => list.reduce((sum, r) => sum + (r.ms ?? 0), 0) / 1000;
  const payloads = episodes.map((r) => Buffer.byteLength(r.input?.string ?? ''));
  const activitySeconds = seconds(activities);
  const pages = activities.filter((r) => r.function === 'exportPage').length;
  const engineGapSeconds = Math.max(0, ((window.to - window.from) / 1000) * lanes - activitySeconds);
  return {
    activities: activities.length,
    activitySeconds,
    episodes: episodes.length,
    episodeSeconds: seconds(episodes),
    payloadBytes: payloads.reduce((a, b) => a + b, 0),
    largestPayloadBytes: Math.max(0, ...payloads),
    engineGapSeconds,
    gapPerPageMs: pages > 0 ? (engineGapSeconds * 1000) / pages : 0,
  };
}
