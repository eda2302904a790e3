import type { ExportConfig } from '../config';
import { assertSameDestination } from '../destination/destinationIdentity';
import type { ExportDestination } from '../destination/exportDestination';
import type { JobStore } from '../jobs/jobStore';
import type { DeletionSource } from '../sources/deletionSource';
import type { SearchSource } from '../sources/searchSource';
import { noopTelemetry, type Telemetry } from '../telemetry';
import type { DeidentifierCache } from './deidentifierCache';
import type { DestinationRef } from './model';
import type { ProgressCache } from './progressCache';
import type { RunningJobCache } from './runningJobCache';
import type { StageAhead } from './stageAhead';

/** What the export domain needs from the outside world; built once per process (src/services.ts). */
export interface ExportDeps {
  jobs: JobStore;
  /** Job records as page steps read them (at most one read per job per `jobRecordMaxAgeMs`). */
  runningJobs: RunningJobCache;
  /** Each unit's progress as this process last saved it (see progressCache.ts). */
  progressCache: ProgressCache;
  source: SearchSource;
  /** Where deletions since `_since` are read (see deletions.ts); absent: the source cannot tell. */
  deletions?: DeletionSource;
  /** Blocks staged ahead by one page step for the next (see stageAhead.ts); absent means none. */
  stageAhead?: StageAhead;
  config: ExportConfig;
  /** The storage account and default container this deployment writes to. */
  destinationRef: DestinationRef;
  /** A writer for one container of the configured account (cached per container). */
  destinationFor(ref: DestinationRef): ExportDestination;
  /** The de-identification engine and the jobs' de-identifiers; absent: de-identified export is refused. */
  deid?: DeidentifierCache;
  /** Types in the Patient compartment, plus Patient. */
  compartmentTypes: ReadonlySet<string>;
  now(): Date;
  /** Where job events and page metrics go (see exportTelemetry.ts); absent means none. */
  telemetry?: Telemetry;
  /**
   * Called after each phase of a page step. Production leaves it unset; the local runtime uses it to
   * crash the process at a chosen phase and prove that a retry ends with each resource exactly once.
   */
  probe?: (phase: PageStepPhase, at: { jobId: string; unitId: string; page: number }) => void;
}

export type PageStepPhase = 'searched' | 'staged' | 'written' | 'checkpointed';

/**
 * A resumed job writes only to the storage account it started with. The container is the job's own
 * choice (`_container`), so only the account is compared with the configuration.
 */
export function assertJobDestination(deps: ExportDeps, recorded: DestinationRef): void {
  assertSameDestination(recorded, {
    accountUrl: deps.destinationRef.accountUrl,
    container: recorded.container,
  });
}

/** The telemetry port of `deps`, or the no-op one. */
export function telemetryOf(deps: Pick<ExportDeps, 'telemetry'>): Telemetry {
  return deps.telemetry ?? noopTelemetry;
}
