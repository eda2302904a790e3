/**
 * The kick-off's `organizeOutputBy` (Bulk Data Access IG v3.0.0). This server organizes by `Patient`
 * only, and only for Patient and Group exports: there the patients' compartments are the whole
 * export, so every resource lands in exactly one patient's block. A system export also holds
 * resources outside any compartment, which would have to be dropped or repeated; the IG lets a server
 * that cannot organize an output refuse it.
 */
import { clip } from '../util/clientText';
import { BadRequestError } from './errors';
import { booleanParameter } from './booleanParameter';
import type { ExportLevel } from './model';

export const ORGANIZE_OUTPUT_BY = 'organizeOutputBy';

/**
 * `{ organizeOutputBy: 'Patient' }` when asked for and possible, `{}` without the parameter; else 400.
 * De-identification may rewrite ids, which a header's plain reference would then reveal; manifest
 * pages list files as they close, while a patient's block may still go on in a later file.
 */
export function parseOrganizeOutputBy(
  raw: ReadonlyMap<string, string[]>,
  level: ExportLevel,
  anonymized: boolean,
): { organizeOutputBy?: 'Patient' } {
  const values = raw.get(ORGANIZE_OUTPUT_BY);
  if (values === undefined) return {};
  if (values.length > 1) throw new BadRequestError(`${ORGANIZE_OUTPUT_BY} may be given only once.`);
  const value = values[0].trim();
  if (value !== 'Patient') {
    throw new BadRequestError(
      `${ORGANIZE_OUTPUT_BY} ${clip(value)} is not supported; this server organizes output by Patient only.`,
      'not-supported',
    );
  }
  if (level === 'system') {
    throw new BadRequestError(
      `${ORGANIZE_OUTPUT_BY} is supported for Patient and Group exports only.`,
      'not-supported',
    );
  }
  if (anonymized) {
    throw new BadRequestError(
      `${ORGANIZE_OUTPUT_BY} cannot be combined with a de-identified export.`,
      'not-supported',
    );
  }
  if (booleanParameter('allowPartialManifests', raw.get('allowPartialManifests'))) {
    throw new BadRequestError(
      `${ORGANIZE_OUTPUT_BY} cannot be combined with allowPartialManifests.`,
      'not-supported',
    );
  }
  return { organizeOutputBy: 'Patient' };
}
