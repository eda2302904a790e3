/**
 * Exports from a real FHIR server implementation (Medplum's router over HTTP, see
 * test/support/fhirTestServer.ts) through the app: system, Patient and Group level, each compared
 * with what the server holds.
 */
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { generateDataset } from '../../dev/demo/syntheticFhir';
import { generateGroup } from '../../dev/demo/syntheticGroup';
import { patientId } from '../../dev/demo/syntheticPatient';
import { AppProcess } from '../support/appProcess';
import { downloadAll, idsByType, sortedIdsOf as sortedIds } from '../support/exportFixtures';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';

const PATIENTS = 5;
const MEMBERS = [1, 2, 3].map(patientId);

type Resource = { resourceType: string; id: string } & Record<string, unknown>;

/** The patient a generated resource belongs to (`subject` or `patient`), or the Patient itself. */
function ownerOf(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient') return resource.id;
  const reference = (resource.subject ?? resource.patient) as { reference?: string } | undefined;
  return reference?.reference?.replace(/^Patient\//, '');
}

describe('exports from a FHIR REST server', () => {
  let server: FhirTestServer;
  let app: AppProcess;
  let client: BulkDataClient;
  const clinical = [...generateDataset({ patients: PATIENTS, seed: 3 })] as Resource[];
  const group = generateGroup('cohort', MEMBERS) as unknown as Resource;

  beforeAll(async () => {
    server = await startFhirTestServer({ linkStyle: 'cursor' });
    await server.seed([...clinical, group]);
    app = new AppProcess({
      env: { SOURCE_KIND: 'fhir', FHIR_SOURCE_URL: server.baseUrl, EXPORT_RESOURCES_PER_PAGE: '7' },
    });
    client = new BulkDataClient(await app.start());
  });
  afterAll(async () => {
    await app?.dispose();
    await server?.close();
  });

  async function exportResources(path: string, init: Parameters<BulkDataClient['kickoff']>[1] = {}) {
    const kickoff = await client.kickoff(path, init);
    expect(kickoff.status).toBe(202);
    const manifest = await client.waitForManifest(kickoff.pollUrl as string);
    return (await downloadAll(client, manifest)).resources;
  }

  async function exportIds(path: string, init: Parameters<BulkDataClient['kickoff']>[1] = {}) {
    return idsByType(await exportResources(path, init));
  }

  it('given a server holding patients and their records, when a system export runs, then the files hold exactly what it holds', async () => {
    const exported = await exportResources('$export');
    expect(idsByType(exported)).toEqual(sortedIds([...clinical, group]));
    // Content too, not just ids: each line is the stored resource (the server adds only `meta`).
    const withoutMeta = ({ meta: _meta, ...rest }: Record<string, unknown>) => rest;
    const seeded = new Map([...clinical, group].map((r) => [`${r.resourceType}/${r.id}`, withoutMeta(r)]));
    for (const resource of [...exported.values()].flat()) {
      expect(withoutMeta(resource)).toEqual(
        seeded.get(`${String(resource.resourceType)}/${String(resource.id)}`),
      );
    }
  });

  it('given a Group of three patients, when it is exported, then the files hold exactly their compartments', async () => {
    const members = new Set(MEMBERS);
    // The Group itself is in its members' compartments (Group.member), so it is exported too.
    const expected = sortedIds([...clinical.filter((r) => members.has(ownerOf(r) ?? '')), group]);
    expect(await exportIds('Group/cohort/$export')).toEqual(expected);
  });

  it('given a POST Patient export for one patient, when it runs, then the files hold exactly that compartment', async () => {
    const one = patientId(4);
    const expected = sortedIds(clinical.filter((r) => ownerOf(r) === one));
    const body = {
      resourceType: 'Parameters',
      parameter: [{ name: 'patient', valueReference: { reference: `Patient/${one}` } }],
    };
    expect(await exportIds('Patient/$export', { body })).toEqual(expected);
  });
});
