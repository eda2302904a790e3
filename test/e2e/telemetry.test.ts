import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { DEMO_GROUP_ID } from '../../dev/demo/seedDemo';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { AppProcess } from '../support/appProcess';
import { seedPatients } from '../support/exportFixtures';
import { IngestionReceiver, type Envelope } from '../support/ingestionReceiver';

const PATIENTS = 6;

/** Strings from the seeded data that must never reach telemetry: ids, names, identifiers, addresses. */
function seededSecrets(): string[] {
  const secrets = new Set<string>([DEMO_GROUP_ID]);
  for (const resource of generateDataset({ patients: PATIENTS, seed: 1 })) {
    secrets.add(resource.id);
    if (resource.resourceType !== 'Patient') continue;
    const patient = resource as unknown as {
      name?: Array<{ family?: string; given?: string[] }>;
      identifier?: Array<{ value?: string }>;
      birthDate?: string;
      address?: Array<{ line?: string[] }>;
    };
    for (const name of patient.name ?? []) {
      if (name.family) secrets.add(name.family);
      for (const given of name.given ?? []) secrets.add(given);
    }
    for (const identifier of patient.identifier ?? []) if (identifier.value) secrets.add(identifier.value);
    if (patient.birthDate) secrets.add(patient.birthDate);
    for (const address of patient.address ?? []) for (const line of address.line ?? []) secrets.add(line);
  }
  return [...secrets];
}

function props(envelope: Envelope): Record<string, string> {
  return envelope.data?.baseData?.properties ?? {};
}

function measures(envelope: Envelope): Record<string, number> {
  return envelope.data?.baseData?.measurements ?? {};
}

describe('Application Insights telemetry of an export (local runtime, loopback ingestion endpoint)', () => {
  const receiver = new IngestionReceiver();
  let app: AppProcess;
  let client: BulkDataClient;

  beforeAll(async () => {
    const endpoint = await receiver.start();
    app = new AppProcess({
      env: {
        EXPORT_RESOURCES_PER_PAGE: '25',
        APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=${endpoint}`,
        NODE_EXTRA_CA_CERTS: receiver.caFile,
        // The SDK's own usage statistics go to Microsoft, not to the connection string: keep them off here.
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
        APPLICATION_INSIGHTS_NO_STATSBEAT: 'true',
        APPLICATIONINSIGHTS_SDKSTATS_DISABLED: 'true',
      },
    });
    await seedPatients(app, PATIENTS);
    client = new BulkDataClient(await app.start());
  });
  afterAll(async () => {
    await app?.dispose();
    await receiver.stop();
  });

  it('given telemetry on, when a system and a Group export run and one is deleted, then the events tell the story and hold no patient data', async () => {
    // A system export, to completion.
    const system = await client.kickoff('$export');
    expect(system.status).toBe(202);
    const systemJobId = (system.pollUrl as string).split('/').pop() as string;
    const manifest = await client.waitForManifest(system.pollUrl as string);

    // A Group export with a patient restriction and a type list: values that must not leak.
    const group = await client.kickoff(`Group/${DEMO_GROUP_ID}/$export`, {
      query: '_type=Patient,Condition',
    });
    expect(group.status).toBe(202);
    const groupJobId = (group.pollUrl as string).split('/').pop() as string;
    await client.waitForManifest(group.pollUrl as string);

    // Deleting the finished system export reports a cancellation.
    expect(await client.cancel(system.pollUrl as string)).toBe(202);

    const forJob = (jobId: string, name: string) =>
      receiver.events(name).filter((e) => props(e).jobId === jobId);
    await receiver.waitFor(
      () =>
        forJob(systemJobId, 'ExportJobCancelled').length > 0 &&
        forJob(groupJobId, 'ExportJobCompleted').length > 0,
      'the final events',
    );
    await receiver.waitFor(() => receiver.metrics('ExportPageLatencyMs').length > 0, 'the page metrics');

    // The ingestion contract: envelopes posted to /v2(.1)/track with the connection string's key.
    expect(receiver.paths.every((p) => /\/v2(\.1)?\/track$/.test(p))).toBe(true);
    expect(
      receiver.envelopes.every(
        (e) => (e.iKey ?? e.instrumentationKey) === '00000000-0000-0000-0000-000000000000',
      ),
    ).toBe(true);

    // The life of the system export, each stage once, all under operation id = job id.
    const operationId = systemJobId.replace(/-/g, '');
    for (const name of ['ExportJobQueued', 'ExportJobStarted', 'ExportJobCompleted', 'ExportJobCancelled']) {
      const events = forJob(systemJobId, name);
      expect({ name, count: events.length }).toEqual({ name, count: 1 });
      expect(events[0].tags?.['ai.operation.id']).toBe(operationId);
      expect(events[0].tags?.['ai.operation.name']).toBe('FhirBulkExport');
      expect(events[0].tags?.['ai.cloud.role']).toBe('durable-fhir-export');
      expect(props(events[0])).toMatchObject({ jobId: systemJobId, level: 'system' });
    }
    expect(forJob(systemJobId, 'ExportJobFailed')).toHaveLength(0);
    expect(props(forJob(systemJobId, 'ExportJobCancelled')[0]).previousStatus).toBe('Completed');

    // Counts match the manifest: per type on the completion event, and summed over the page events.
    const manifestCounts: Record<string, number> = {};
    for (const o of manifest.output) manifestCounts[o.type] = (manifestCounts[o.type] ?? 0) + (o.count ?? 0);
    const completed = forJob(systemJobId, 'ExportJobCompleted')[0];
    expect(JSON.parse(props(completed).resourceCounts)).toEqual(manifestCounts);
    const total = Object.values(manifestCounts).reduce((a, b) => a + b, 0);
    expect(measures(completed)).toMatchObject({ resources: total, files: manifest.output.length });
    expect(measures(completed).durationMs).toBeGreaterThan(0);
    expect(props(completed).resourceTypes.split(',')).toEqual(Object.keys(manifestCounts).sort());

    const pages = forJob(systemJobId, 'ExportPageWritten');
    expect(pages.every((p) => p.tags?.['ai.operation.id'] === operationId)).toBe(true);
    const perType: Record<string, number> = {};
    for (const page of pages)
      perType[props(page).resourceType] = (perType[props(page).resourceType] ?? 0) + measures(page).resources;
    expect(Object.fromEntries(Object.entries(perType).filter(([, n]) => n > 0))).toEqual(manifestCounts);
    expect(pages.every((p) => measures(p).latencyMs >= 0 && Number.isInteger(measures(p).page))).toBe(true);
    expect(measures(completed).pages).toBe(pages.length);

    // Per-page metrics arrive as aggregated MetricData, one series per resource type.
    const latency = receiver.metrics('ExportPageLatencyMs');
    const samples = latency
      .flatMap((e) => e.data?.baseData?.metrics ?? [])
      .reduce((n, m) => n + (m.count ?? 1), 0);
    expect(samples).toBeGreaterThanOrEqual(pages.length);
    expect(latency.every((e) => props(e).resourceType !== undefined && props(e).jobId === undefined)).toBe(
      true,
    );
    expect(receiver.metrics('ExportResourcesPerSecond').length).toBeGreaterThan(0);

    // The Group export: its own operation, no Group id anywhere.
    const groupCompleted = forJob(groupJobId, 'ExportJobCompleted')[0];
    expect(groupCompleted.tags?.['ai.operation.id']).toBe(groupJobId.replace(/-/g, ''));
    expect(props(groupCompleted)).toMatchObject({ level: 'group', requestedTypes: 'Condition,Patient' });
    expect(measures(groupCompleted).patientScopeCount).toBeGreaterThan(0);

    // Nothing auto-collected: only our events and metrics were sent.
    const kinds = new Set(receiver.envelopes.map((e) => e.data?.baseType));
    expect([...kinds].sort()).toEqual(['EventData', 'MetricData']);

    // No resource data in any item: scan every body for every seeded id, name, identifier and address.
    const everything = receiver.bodies.join('\n');
    const leaked = seededSecrets().filter((secret) =>
      new RegExp(`(^|[^A-Za-z0-9-])${secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9-])`).test(
        everything,
      ),
    );
    expect(leaked).toEqual([]);
  });
});
