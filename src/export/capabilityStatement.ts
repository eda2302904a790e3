/** The server's CapabilityStatement: a Bulk Data export server with the three export operations. */
// A named import, so that a bundler keeps only this field of package.json.
import { version } from '../../package.json';

const EXPORT_OPERATIONS = [
  { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' },
  {
    name: 'patient-export',
    definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  },
  { name: 'group-export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' },
];

export function capabilityStatement(baseUrl: string): Record<string, unknown> {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-29',
    kind: 'instance',
    instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'],
    software: { name: 'durable-fhir-export', version },
    implementation: { description: 'FHIR Bulk Data export on Azure Durable Functions', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
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
          { type: 'Patient', operation: [EXPORT_OPERATIONS[1]] },
          { type: 'Group', operation: [EXPORT_OPERATIONS[2]] },
        ],
        operation: [EXPORT_OPERATIONS[0]],
      },
    ],
  };
}
