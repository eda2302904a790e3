/** The data the export domain works on: the parsed request, the job record and progress documents. */

export type ExportLevel = 'system' | 'patient' | 'group';

/** A validated kick-off request. Everything a job needs to run is here; nothing is re-read from HTTP. */
export interface ExportRequest {
  level: ExportLevel;
  /** The kick-off URL as the client sent it (goes into the manifest's `request`). */
  requestUrl: string;
  /** Output format, normalised to `application/fhir+ndjson`. */
  outputFormat: 'application/fhir+ndjson';
  /** Resource types to export; empty means every type the source has. */
  types: string[];
  /** ISO instant: only resources updated at or after it. */
  since?: string;
  /** ISO instant: only resources updated at or before it (never later than the transaction time). */
  until?: string;
  /** Per type, FHIR search query strings (without `Type?`) that are OR-ed. */
  typeFilters: Record<string, string[]>;
  /** Root elements to keep (`_elements`), empty for all. */
  elements: string[];
  /** Group id for a Group export. */
  groupId?: string;
  /** Patient references (`Patient/123`) that restrict a Patient or Group export (POST `patient`). */
  patients: string[];
  /** Blob container override (`_container`), already validated. */
  container?: string;
  /** `includeAssociatedData` values accepted. */
  includeAssociatedData: string[];
  /**
   * `allowPartialManifests=true`: polls of the running job may list the files already finished, and
   * the manifest is split into pages linked with `next` (src/export/manifestPages.ts).
   */
  allowPartialManifests?: boolean;
  /** The anonymization configuration a de-identified export names; absent for a plain export. */
  anonymization?: AnonymizationRequest;
  /** `organizeOutputBy=Patient` (IG v3): files hold one block per patient (see organizedOutput.ts). */
  organizeOutputBy?: 'Patient';
}

/** `_anonymizationConfig` and `_anonymizationConfigEtag` as the kick-off gave them. */
export interface AnonymizationRequest {
  /** Blob name in the `anonymization` container of the export's storage account. */
  config: string;
  /** The version the client expects, quoted (`If-Match`). */
  etag?: string;
}

/**
 * Which configuration a de-identified job runs with, as read at kick-off: on the job record and in
 * the manifest, so a client can tell what its files went through. Never the keys.
 */
export interface DeidentificationInfo {
  /** The blob name in the `anonymization` container. */
  configuration: string;
  /** The blob's etag when it was read. */
  etag: string;
  /** SHA-256 (hex) of the configuration's bytes. */
  sha256: string;
  processingErrors: 'raise' | 'skip';
}

/**
 * The configuration a de-identified job started with and the keys generated for what it leaves out,
 * a document of its own in the job's partition (`id = {jobId}:deid`): the job record, read for every
 * page, stays small and free of keys. Deleted with the job's progress documents.
 */
export interface DeidConfigDocument {
  id: string;
  jobId: string;
  docType: 'deid';
  /** The configuration's bytes, base64 (stored exactly as read; 1 MB at most). */
  configBase64: string;
  /** Keys the configuration leaves out, generated once at kick-off. Secret. */
  missingKeys: Record<string, string>;
  createdAt: string;
}

/** The id of a job's pinned configuration document. */
export function deidConfigDocumentId(jobId: string): string {
  return `${jobId}:deid`;
}

export type JobStatus = 'Queued' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';

export interface FailureDetails {
  reason: string;
  statusCode: number;
}

/** How the orchestrations retry and wait; see the RETRY settings (src/settings/serviceSettings.ts). */
export interface RetryPolicy {
  /** Attempts of one page before the job fails with 503. */
  maxAttempts: number;
  firstRetryIntervalMs: number;
  backoffCoefficient: number;
  maxRetryIntervalMs: number;
  /** How many times one unit may be throttled (429 + Retry-After) in a row before it fails. */
  maxThrottleWaits: number;
  /** Longest Retry-After honoured; longer requests are capped. */
  maxThrottleWaitSeconds: number;
  /** How long the write of a job's end is retried before the orchestration gives up. */
  jobEndDeadlineMinutes: number;
}

/**
 * The settings that shape an orchestration's decisions (how many lanes, when to continue as new,
 * how to retry and wait). Fixed on the job at kick-off and carried in the orchestrations' input:
 * an app setting change restarts the workers and replays running orchestrations, which must then
 * decide exactly as they did before.
 */
export interface OrchestrationSettings {
  typeParallelism: number;
  pagesPerContinueAsNew: number;
  retry: RetryPolicy;
}

/** Where a job writes, fixed at kick-off so that a resumed job never writes anywhere else. */
export interface DestinationRef {
  /** Blob service URL of the storage account, e.g. `https://acct.blob.core.windows.net`. */
  accountUrl: string;
  container: string;
}

export interface ManifestOutputEntry {
  type: string;
  /** Blob name within the job's container, e.g. `{jobId}/Patient-1.ndjson`. */
  blobName: string;
  count: number;
  bytes: number;
  /** Organized output: the blob where the last patient's block of this file goes on. */
  continuesIn?: string;
}

/** The fields every job record has, whatever its status. */
export interface JobRecordFields {
  id: string;
  jobId: string;
  docType: 'job';
  /** ISO instant when the job was created. */
  createdAt: string;
  /** ISO instant; the upper bound of `_lastUpdated` for every search of this job. */
  transactionTime: string;
  request: ExportRequest;
  /** Hash of the normalised request and the client, for request reuse. */
  requestHash: string;
  destination: DestinationRef;
  /** Who created the job (token subject / client id), `anonymous` when auth is off. */
  clientId: string;
  /**
   * The types the kick-off checked the caller's scopes against, recorded when those scopes did not
   * allow every type: the plan exports none but these, and they are the job's types before it is
   * planned (see jobAccess.ts).
   */
  checkedTypes?: string[];
  /** The orchestration settings in force when the job was created. */
  orchestration: OrchestrationSettings;
  /**
   * The units planned when the job started: one per type, or one per time range of a split type.
   * Saved before any progress document exists, so a retried start makes exactly the same units.
   */
  plannedUnits?: PlannedUnit[];
  /**
   * Patient references whose compartments a Patient or Group export covers, fixed when the job
   * starts (the `patient` parameter, or the Group's active members). Undefined: no restriction.
   */
  patientScope?: string[];
  startedAt?: string;
  completedAt?: string;
  /** ISO instant after which the files of an ended job are deleted (and a manifest no longer answered). */
  expiresAt?: string;
  output?: ManifestOutputEntry[];
  /** The manifest's `deleted` entries (type `Bundle`), of a `_since` export. */
  deleted?: ManifestOutputEntry[];
  failureDetails?: FailureDetails;
  /** What lenient handling ignored at kick-off; reported in the manifest's `error` file. */
  warnings?: string[];
  /** Set for a de-identified export: the configuration it runs with (its text is pinned apart). */
  deidentification?: DeidentificationInfo;
  /** The manifest's `error` entries: OperationOutcome NDJSON written when the job completed. */
  errorFiles?: ManifestOutputEntry[];
  /** When an ended job's files were deleted (cancelled, or expired); absent while that is still due. */
  filesDeletedAt?: string;
  /** When an ended job's durable history and progress documents were purged. */
  historyPurgedAt?: string;
  /** Seconds Cosmos DB keeps the record after its last write; set when the job ends. */
  ttl?: number;
  /** Cosmos etag, present on records read from the store. */
  _etag?: string;
}

/** A job that ran: it was planned before it became Running. */
export type RunningJobRecord = JobRecordFields & {
  status: 'Running' | 'Completed';
  plannedUnits: PlannedUnit[];
};

/** A failed job always says why. */
export type FailedJobRecord = JobRecordFields & { status: 'Failed'; failureDetails: FailureDetails };

/**
 * The job record, one Cosmos document per job (partition key `/jobId`, `id = jobId`). Queued and
 * Cancelled jobs, and jobs that failed while queued, may have no plan yet.
 */
export type ExportJobRecord =
  | (JobRecordFields & { status: 'Queued' | 'Cancelled' })
  | RunningJobRecord
  | FailedJobRecord;

/** The resource types a job planned, sorted, each once. */
export function plannedTypes(job: { plannedUnits?: PlannedUnit[] }): string[] {
  return [...new Set((job.plannedUnits ?? []).map((u) => u.resourceType))].sort();
}

/** One unit of parallel work: a resource type, or one time range of it. */
export interface PlannedUnit {
  /** `Observation`, or `Observation.r2` for range 2 of a split type. */
  unitId: string;
  resourceType: string;
  /** 1-based range within the type; absent when the type is not split. */
  rangeIndex?: number;
  /** Inclusive lower bound of `meta.lastUpdated` (ISO instant); absent: the job's `_since`. */
  rangeStart?: string;
  /** Exclusive upper bound of `meta.lastUpdated` (ISO instant); absent: the job's `until`. */
  rangeEnd?: string;
  /** The source's size estimate at planning time, used to balance the lanes; absent when unknown. */
  estimate?: number;
  /** `deleted`: the type's deletions since `_since` (see deletions.ts); absent: its resources. */
  kind?: 'deleted';
  /** The unit of organized output: the types each patient's block holds, in order. */
  organizedTypes?: string[];
}

/** One output file of a progress unit. */
export interface ProgressFile {
  /** 1-based part number within the unit. */
  part: number;
  blobName: string;
  /** Committed block ids, in order; the blob's content is exactly these blocks. */
  blockIds: string[];
  /**
   * The blob's etag after the last checkpointed commit: the next commit is made only over that
   * version (see `commitBlocks`). Absent before the first commit, and on closed files (their block
   * list is never committed again).
   */
  etag?: string;
  count: number;
  bytes: number;
  /** Organized output: the blob where this file's last patient block goes on (`continuesInFile`). */
  continuesIn?: string;
}

/**
 * Progress of one unit of parallel work (a type or a range of it), a document of its own in the job's
 * partition (`id = {jobId}:progress:{unitId}`), so parallel units never contend for one etag.
 */
export interface ProgressDocument {
  id: string;
  jobId: string;
  docType: 'progress';
  unitId: string;
  resourceType: string;
  /** The unit's time range when its type is split (see PlannedUnit); all absent otherwise. */
  rangeIndex?: number;
  rangeStart?: string;
  rangeEnd?: string;
  /** As the unit's (see PlannedUnit). */
  kind?: 'deleted';
  /** Next page to fetch (0 before the first). */
  page: number;
  /** The source's cursor for the next page; undefined before the first page. */
  continuationToken?: string;
  done: boolean;
  resourceCount: number;
  bytes: number;
  files: ProgressFile[];
  /** Total resources the source reports for this unit, when known (for X-Progress). */
  total?: number;
  /**
   * Resources written as redacted stubs under `processingErrors: skip`, counted per rule and reason
   * (a bounded list, see deidPage.ts); reported in the manifest's `error` file.
   */
  deidSkipped?: DeidSkipCount[];
  updatedAt: string;
  _etag?: string;
}

/** How many resources of a unit one rule could not de-identify, for one reason. */
export interface DeidSkipCount {
  ruleIndex: number;
  reason: string;
  count: number;
}

/** The id of a unit's progress document (it shares the job's partition). */
export function progressDocumentId(jobId: string, unitId: string): string {
  return `${jobId}:progress:${unitId}`;
}

/**
 * One page of a job's manifest under `allowPartialManifests` (`id = {jobId}:manifest:{page}`, in the
 * job's partition). Written once, when a poll first lists its files, and never changed: a client
 * may have read it. Page 1 is the manifest at the poll URL; page n links to page n + 1 once it exists.
 */
export interface ManifestPageDocument {
  id: string;
  jobId: string;
  docType: 'manifestPage';
  /** 1-based. */
  page: number;
  /** Closed files only: each listed on exactly one page, in no other page of the job. */
  files: PagedFile[];
  createdAt: string;
}

/**
 * A file on a manifest page: an `output` file, or a file of the `deleted` (`list: 'deleted'`) or
 * `error` (`list: 'error'`) array.
 */
export type PagedFile = ManifestOutputEntry & { list?: 'deleted' | 'error' };

/** The id of a manifest page document (it shares the job's partition). */
export function manifestPageDocumentId(jobId: string, page: number): string {
  return `${jobId}:manifest:${page}`;
}
