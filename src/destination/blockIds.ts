/**
 * Deterministic block ids. Azure requires every block id of one blob to have the same length and to
 * be at most 64 bytes before base64 encoding. An id here is the base64 of a fixed-width ASCII string
 *
 *   {24 hex chars of sha256(jobId, unitId)}-{part, 6 digits}-{page, 10 digits}   (42 bytes)
 *
 * where the unit is a resource type or one time range of it (`Observation.r2`), so the same
 * (job, unit, part, page) always gives the same id, a retried page re-stages the same
 * block, and ids stay readable when decoded.
 *
 * A block staged ahead, by the page step before its page (see `stageAhead.ts`), has `~` in place of
 * the first `-`. Only the execution that staged it ahead ever commits that id, so an upload of it
 * that lands late can never replace the block another execution staged and committed for the page.
 */
import { createHash } from 'node:crypto';

export const MAX_PART = 999_999;
export const MAX_PAGE = 9_999_999_999;

export interface BlockIdParts {
  /** First 24 hex chars of sha256 over jobId and unit id; identifies the unit, not reversible. */
  unitHash: string;
  part: number;
  page: number;
  /** Staged ahead by the page step before this page. */
  stagedAhead: boolean;
}

function unitHash(jobId: string, unitId: string): string {
  return createHash('sha256').update(jobId).update('\u0000').update(unitId).digest('hex').slice(0, 24);
}

function checkNumber(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${value}`);
  }
}

/**
 * The block id of page `page` in part `part` of unit `unitId` (a type, or a range of one) in job
 * `jobId`; `stagedAhead` for the id of the same page staged ahead.
 */
export function blockId(
  jobId: string,
  unitId: string,
  part: number,
  page: number,
  stagedAhead = false,
): string {
  checkNumber('part', part, MAX_PART);
  checkNumber('page', page, MAX_PAGE);
  const separator = stagedAhead ? '~' : '-';
  const raw = `${unitHash(jobId, unitId)}${separator}${String(part).padStart(6, '0')}-${String(page).padStart(10, '0')}`;
  return Buffer.from(raw, 'ascii').toString('base64');
}

/** Decodes an id made by `blockId` (for logs and tests); undefined for any other id. */
export function parseBlockId(id: string): BlockIdParts | undefined {
  const raw = Buffer.from(id, 'base64').toString('ascii');
  const m = /^([0-9a-f]{24})([-~])(\d{6})-(\d{10})$/.exec(raw);
  if (!m) return undefined;
  return { unitHash: m[1], part: Number(m[3]), page: Number(m[4]), stagedAhead: m[2] === '~' };
}
