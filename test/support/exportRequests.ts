import { exportConfigFromEnv } from '../../src/config';
import { orchestrationSettingsOf } from '../../src/export/kickoff';
import type { ExportRequest, OrchestrationSettings } from '../../src/export/model';

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

/** The orchestration settings a job gets with the default configuration. */
export function defaultOrchestrationSettings(): OrchestrationSettings {
  return orchestrationSettingsOf(exportConfigFromEnv({}));
}
