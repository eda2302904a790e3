import type { ExportRequest } from '../../src/export/model';

/** A system export of every type, as the kick-off parser would produce it, changed by `fields`. */
export function exportRequest(fields: Partial<ExportRequest> = {}): ExportRequest {
  return {
    level: 'system',
    requestUrl: 'http://localhost/$export',
    outputFormat: 'application/fhir+ndjson',
    types: [],
    typeFilters: {},
    elements: [],
    patients: [],
    includeAssociatedData: [],
    ...fields,
  };
}
