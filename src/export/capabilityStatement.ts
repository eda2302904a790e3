/**
 * The server's CapabilityStatement: a Bulk Data Access IG v3.0.0 export server with the three export
 * operations, each documenting the kick-off parameters it supports (the IG asks that the statement
 * say which parameters each request type supports).
 */
// A named import, so that a bundler keeps only this field of package.json.
import { version } from '../../package.json';

/** The IG's CapabilityStatement; its version is the IG's (STU3 is 3.0.0). */
export const BULK_DATA_CAPABILITY_STATEMENT = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';
export const BULK_DATA_IG_VERSION = '3.0.0';
const BULK_DATA_IG = 'http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata';
const OPERATION_DEFINITION = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

/** Every kick-off parameter this server acts on, with what it does here. */
export const SUPPORTED_PARAMETERS: ReadonlyArray<{ name: string; levels: 'all' | 'patient'; does: string }> =
  [
    {
      name: '_outputFormat',
      levels: 'all',
      does: '`application/fhir+ndjson`, `application/ndjson` or `ndjson`',
    },
    { name: '_since', levels: 'all', does: 'resources updated at or after the instant' },
    { name: '_until', levels: 'all', does: 'resources updated at or before the instant' },
    { name: '_type', levels: 'all', does: 'only the listed resource types' },
    {
      name: '_typeFilter',
      levels: 'all',
      does: 'search queries of one type each; several for one type are OR-ed; types without one are exported whole',
    },
    {
      name: '_elements',
      levels: 'all',
      does: 'root elements kept (plus mandatory ones), resources tagged SUBSETTED',
    },
    { name: 'patient', levels: 'patient', does: 'POST only: the patients whose compartments are exported' },
    {
      name: 'organizeOutputBy',
      levels: 'patient',
      does: '`Patient` only: one block per patient, a header `Parameters` first; files are not per type',
    },
    {
      name: 'allowPartialManifests',
      levels: 'all',
      does: 'a running export answers its polls with the files already finished; manifests are paged with `next` links',
    },
    {
      name: '_anonymizationConfig',
      levels: 'all',
      does: 'de-identify every resource by this configuration, a blob of the `anonymization` container (docs/deidentification.md)',
    },
    {
      name: '_anonymizationConfigEtag',
      levels: 'all',
      does: 'the version of that configuration blob the client expects (400 when it differs)',
    },
    {
      name: '_container',
      levels: 'all',
      does: 'the blob container the files are written to (server-specific)',
    },
  ];

/** The markdown that lists the parameters of an operation at `level`. */
function parametersDocumentation(level: 'system' | 'patient'): string {
  const lines = SUPPORTED_PARAMETERS.filter((p) => p.levels === 'all' || level === 'patient').map(
    (p) => `- \`${p.name}\`: ${p.does}`,
  );
  return [
    'Supported kick-off parameters (GET query or POST Parameters):',
    ...lines,
    '',
    'Not supported: `includeAssociatedData` and `_anonymizationConfigCollectionReference` (400, or ignored with a warning under `Prefer: handling=lenient`), `organizeOutputBy` at the system level (400).',
  ].join('\n');
}

function exportOperation(definition: string, level: 'system' | 'patient'): Record<string, unknown> {
  // The operation is invoked as $export at every level, so its name is `export` (as in the IG's statement).
  return {
    name: 'export',
    definition: `${OPERATION_DEFINITION}/${definition}`,
    documentation: parametersDocumentation(level),
  };
}

export function capabilityStatement(baseUrl: string): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-29',
    kind: 'instance',
    // Unversioned for clients that look for the canonical as such, versioned to say which version.
    instantiates: [
      BULK_DATA_CAPABILITY_STATEMENT,
      `${BULK_DATA_CAPABILITY_STATEMENT}|${BULK_DATA_IG_VERSION}`,
    ],
    software: { name: 'durable-fhir-export', version },
    implementation: { description: 'FHIR Bulk Data export on Azure Durable Functions', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    implementationGuide: [`${BULK_DATA_IG}|${BULK_DATA_IG_VERSION}`],
    rest: [
      {
        mode: 'server',
        security: {
          service: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
                  code: 'SMART-on-FHIR',
                },
              ],
            },
          ],
          description: 'Bearer tokens with SMART system scopes (system/*.read, system/Type.rs, ...).',
        },
        resource: [
          { type: 'Patient', operation: [exportOperation('patient-export', 'patient')] },
          { type: 'Group', operation: [exportOperation('group-export', 'patient')] },
        ],
        operation: [exportOperation('export', 'system')],
      },
    ],
  };
}
