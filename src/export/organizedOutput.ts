/**
 * Output organized by patient (`organizeOutputBy=Patient`, Bulk Data Access IG v3.0.0): one unit,
 * `Patient.organized`, whose files hold one block per patient: a header `Parameters` naming the
 * patient, then the patient's compartment resources of each exported type.
 *
 * Nothing holds more than a page: the step pages through the export's patients (the scope, or every
 * Patient), and for the patient at the cursor searches each type restricted to that patient's
 * compartment, page by page. The cursor (patients page, patient, type, the type's own cursor) is the
 * progress document's continuation token, so each step is a page step as any other: one block, one
 * conditional commit, one checkpoint, and a retry repeats the same searches into the same block id.
 */
import { blockId as blockIdFor } from '../destination/blockIds';
import { StaleBlobError, type ExportDestination } from '../destination/exportDestination';
import { lineText, type SearchParameters } from '../sources/searchSource';
import { applyElements, elementsForType } from './elementsFilter';
import type { ExportDeps } from './exportDeps';
import { during, OPERATIONS } from './failureMapping';
import { ndjsonBuffer } from './ndjson';
import type { ExportJobRecord, PlannedUnit, ProgressDocument, ProgressFile } from './model';

export const ORGANIZED_UNIT_ID = 'Patient.organized';

/** Searches one step may make before it writes what it has: patients without data cost a search each. */
const MAX_SEARCHES_PER_STEP = 200;
/** As pageStep.ts: the current file's block ids live in the progress document. */
const MAX_BLOCKS_PER_FILE = 10_000;

/** The one unit of an organized export; `types` are the types each patient's block holds. */
export function organizedUnit(types: string[]): PlannedUnit {
  // Patient first: a block shows the patient, then what references it.
  const ordered = [...types.filter((t) => t === 'Patient'), ...types.filter((t) => t !== 'Patient')];
  return { unitId: ORGANIZED_UNIT_ID, resourceType: 'Patient', organizedTypes: ordered };
}

export function isOrganizedUnit(progress: { unitId: string; kind?: string }): boolean {
  return progress.unitId === ORGANIZED_UNIT_ID && !progress.kind;
}

/** Where the organized unit stands, kept as the progress document's continuation token. */
interface Cursor {
  /** Cursor of the patient listing for the page after `batch`; undefined at the first page. */
  listToken?: string;
  /** Whether the listing has no page after `batch`. */
  listed: boolean;
  /** Ids of the listed patients not finished yet; the first is the current one. */
  batch: string[];
  /** Index of the current type in the unit's types. */
  type: number;
  /** The current type's search cursor for the current patient. */
  typeToken?: string;
  /** Whether the current patient's header is written (its block is open). */
  open: boolean;
}

/** What pageStep.ts lends: its checkpoint, its conflict handling and its search parameters. */
export interface PageStepParts<R> {
  checkpoint(deps: ExportDeps, next: ProgressDocument, pageResources: number): Promise<R>;
  afterConflict(deps: ExportDeps, jobId: string, unitId: string): Promise<R>;
  unitSearch(
    job: ExportJobRecord,
    type: string,
    count: number,
    patients: string[] | undefined,
  ): SearchParameters;
}

/** The header line that opens (or, in a following file, reopens) `reference`'s block. */
export function headerLine(reference: string): string {
  return JSON.stringify({
    resourceType: 'Parameters',
    parameter: [{ name: 'header', valueReference: { reference } }],
  });
}

/** One step of the organized unit: roughly a page of resources, as one block. */
export async function organizedPage<R>(
  deps: ExportDeps,
  job: ExportJobRecord,
  progress: ProgressDocument,
  destination: ExportDestination,
  parts: PageStepParts<R>,
): Promise<R> {
  const types = (job.plannedUnits ?? []).find((u) => u.unitId === progress.unitId)?.organizedTypes ?? [];
  const perPage = deps.config.resourcesPerPage;
  const last = lastFile(progress);
  const room = last && last.bytes > 0 ? Math.max(0, deps.config.fileRollBytes - last.bytes) : Infinity;
  // A full file takes no more: this step's block then starts the next one.
  const target = room > 0 ? Math.min(room, deps.config.fileRollBytes) : deps.config.fileRollBytes;

  const cursor: Cursor = progress.continuationToken
    ? (JSON.parse(progress.continuationToken) as Cursor)
    : { listed: false, batch: [], type: 0, open: false };
  const lines: string[] = [];
  let bytes = 0;
  // The patient whose block, opened in an earlier step, this step's first lines continue.
  let continuing: string | undefined;
  let searches = 0;
  let done = false;

  while (lines.length < perPage && bytes < target && searches < MAX_SEARCHES_PER_STEP) {
    searches++;
    if (cursor.batch.length === 0) {
      if (cursor.listed) {
        done = true;
        break;
      }
      await listPatients(deps, job, cursor, parts, perPage);
      continue;
    }
    if (cursor.type >= types.length) {
      nextPatient(cursor);
      continue;
    }
    const reference = `Patient/${cursor.batch[0]}`;
    const type = types[cursor.type];
    const params = parts.unitSearch(job, type, perPage, [reference]);
    const page = await during(OPERATIONS.search, deps.source.search(type, params, cursor.typeToken));
    const keep = elementsForType(job.request.elements, type);
    const found = page.resources.map((r) =>
      keep.length > 0 ? applyElements(lineText(r), keep) : lineText(r),
    );
    page.release?.();
    if (found.length > 0) {
      if (!cursor.open) {
        lines.push(headerLine(reference));
        cursor.open = true;
      } else if (lines.length === 0) {
        continuing = reference;
      }
      for (const line of found) {
        lines.push(line);
        bytes += Buffer.byteLength(line) + 1;
      }
    }
    cursor.typeToken = page.nextToken;
    if (page.nextToken === undefined) {
      cursor.type++;
      if (cursor.type >= types.length) nextPatient(cursor);
    }
  }
  if (!done && cursor.batch.length === 0 && cursor.listed) done = true;

  const next: ProgressDocument = {
    ...progress,
    page: progress.page + 1,
    continuationToken: done ? undefined : JSON.stringify(cursor),
    done,
    updatedAt: deps.now().toISOString(),
  };
  if (lines.length === 0) return parts.checkpoint(deps, next, 0);

  let data = ndjsonBuffer(lines);
  const fits =
    last &&
    (last.bytes === 0 || last.bytes + data.length <= deps.config.fileRollBytes) &&
    last.blockIds.length < MAX_BLOCKS_PER_FILE;
  const file: ProgressFile = fits ? last : newFile(job.jobId, (last?.part ?? 0) + 1);
  let count = lines.length;
  // A block that goes on in a new file starts it with its header again (the IG's rule).
  if (!fits && continuing) {
    data = ndjsonBuffer([headerLine(continuing), ...lines]);
    count++;
  }
  const id = blockIdFor(job.jobId, progress.unitId, file.part, progress.page);
  await during(OPERATIONS.writeBlock, destination.stageBlock(file.blobName, id, data));
  const blockIds = [...file.blockIds, id];
  let etag: string;
  try {
    etag = await during(
      OPERATIONS.commitFile,
      destination.commitBlocks(file.blobName, blockIds, file.etag ? { etag: file.etag } : 'new'),
    );
  } catch (error) {
    if (error instanceof StaleBlobError) return parts.afterConflict(deps, job.jobId, progress.unitId);
    throw error;
  }
  const updated: ProgressFile = {
    ...file,
    blockIds,
    etag,
    count: file.count + count,
    bytes: file.bytes + data.length,
  };
  next.files = [
    ...progress.files
      .filter((f) => f.part !== file.part)
      .map((f) => ({
        ...f,
        blockIds: [],
        etag: undefined,
        ...(!fits && continuing && f.part === last?.part ? { continuesIn: file.blobName } : {}),
      })),
    updated,
  ];
  next.resourceCount = progress.resourceCount + count;
  next.bytes = progress.bytes + data.length;
  return parts.checkpoint(deps, next, count);
}

/** Reads the next page of the export's patients into the cursor. */
async function listPatients<R>(
  deps: ExportDeps,
  job: ExportJobRecord,
  cursor: Cursor,
  parts: PageStepParts<R>,
  count: number,
): Promise<void> {
  // Every patient in scope, whatever `_since` or a Patient `_typeFilter` say: those narrow what a
  // block holds (the Patient resource too), not whose blocks there are.
  const params = {
    ...parts.unitSearch(job, 'Patient', count, job.patientScope),
    since: undefined,
    typeFilters: [],
  };
  const page = await during(OPERATIONS.search, deps.source.search('Patient', params, cursor.listToken));
  const ids = page.resources.map((r) => String((JSON.parse(lineText(r)) as { id?: unknown }).id));
  page.release?.();
  cursor.batch = ids;
  cursor.listToken = page.nextToken;
  cursor.listed = page.nextToken === undefined;
  cursor.type = 0;
  cursor.typeToken = undefined;
  cursor.open = false;
}

function nextPatient(cursor: Cursor): void {
  cursor.batch = cursor.batch.slice(1);
  cursor.type = 0;
  cursor.typeToken = undefined;
  cursor.open = false;
}

function lastFile(progress: ProgressDocument): ProgressFile | undefined {
  return progress.files.reduce<ProgressFile | undefined>(
    (a, f) => (!a || f.part > a.part ? f : a),
    undefined,
  );
}

function newFile(jobId: string, part: number): ProgressFile {
  return { part, blobName: `${jobId}/Patient-organized-${part}.ndjson`, blockIds: [], count: 0, bytes: 0 };
}
