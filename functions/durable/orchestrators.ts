/**
 * The durable orchestrations. Deterministic by construction: they only call activities, timers and
 * sub-orchestrations, read time from `currentUtcDateTime`, take their settings from their input,
 * and carry ids and counters, never data.
 */
import * as df from 'durable-functions';
import { ORCHESTRATOR_EXPORT_JOB, ORCHESTRATOR_EXPORT_LANE, ORCHESTRATOR_EXPORT_TYPE } from '../names';
import { exportJob, exportLane } from './exportJob';
import { exportResourceType } from './exportResourceType';

df.app.orchestration(ORCHESTRATOR_EXPORT_TYPE, exportResourceType);
df.app.orchestration(ORCHESTRATOR_EXPORT_LANE, exportLane);
df.app.orchestration(ORCHESTRATOR_EXPORT_JOB, exportJob);
