/** The manifest's `output` of an export organized by patient (see organizedOutput.ts). */
import type { ExportJobRecord } from './model';

/**
 * The files without `type` (each holds many types, as the IG asks), and with `continuesInFile` where
 * the file's last patient block goes on in the next one.
 */
export function organizedEntries(
  job: ExportJobRecord,
  fileUrl: (job: ExportJobRecord, blobName: string) => Promise<string>,
): Promise<Array<{ url: string; count: number; continuesInFile?: string }>> {
  return Promise.all(
    (job.output ?? []).map(async (o) => ({
      url: await fileUrl(job, o.blobName),
      count: o.count,
      ...(o.continuesIn ? { continuesInFile: await fileUrl(job, o.continuesIn) } : {}),
    })),
  );
}
