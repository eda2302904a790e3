/**
 * Bulk Data Access IG v3.0.0 `organizeOutputBy=Patient`: each patient's resources form one block
 * opened by a header `Parameters`, files are not typed, the manifest says `outputOrganizedBy`, and a
 * block that spans files repeats its header and is linked with `continuesInFile`.
 */
import {
  expectOperationOutcome,
  exportedKeys,
  keys,
  kickoff,
  patientOf,
  runExport,
  seededResources,
  startApp,
  startFhirSourceApp,
  type ConformanceApp,
} from './conformanceSupport';
import { startFhirTestServer, type FhirTestServer } from '../support/fhirTestServer';

/** Small files, so that the demo patients' blocks must span files. */
const ROLL_BYTES = 4096;

interface OrganizedFile {
  url: string;
  count?: number;
  type?: string;
  continuesInFile?: string;
  lines: Array<Record<string, unknown>>;
}

/** The patient a header line names, or undefined for any other line. */
function headerOf(line: Record<string, unknown>): string | undefined {
  if (line.resourceType !== 'Parameters') return undefined;
  const parameter = (line.parameter as Array<{ name: string; valueReference?: { reference?: string } }>)[0];
  return parameter?.name === 'header' ? parameter.valueReference?.reference : undefined;
}

async function organizedExport(
  target: ConformanceApp,
  path: string,
): Promise<{ manifest: Record<string, unknown>; files: OrganizedFile[] }> {
  const accepted = await kickoff(target.base, path, {
    query: 'organizeOutputBy=Patient',
    headers: { 'Cache-Control': 'no-cache' },
  });
  expect({ status: accepted.status, body: accepted.text }).toMatchObject({ status: 202 });
  const pollUrl = accepted.headers.get('content-location') as string;
  const manifest = (await target.client.waitForManifest(pollUrl, {
    timeoutMs: 120_000,
  })) as unknown as Record<string, unknown>;
  const files: OrganizedFile[] = [];
  for (const entry of manifest.output as OrganizedFile[]) {
    const text = await target.client.download(entry.url, manifest.requiresAccessToken as boolean);
    const lines = text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    files.push({ ...entry, lines });
  }
  return { manifest, files };
}

/** The IG's rules for organized files, on an export already downloaded. */
function expectOrganized(organized: { manifest: Record<string, unknown>; files: OrganizedFile[] }): void {
  expect(organized.manifest.outputOrganizedBy).toBe('Patient');
  const { files } = organized;
  expect(files.length).toBeGreaterThan(1);
  const blocksSeen = new Set<string>();
  let previousOpen: string | undefined;
  let spans = 0;
  files.forEach((file, index) => {
    // Files are not typed: each holds the blocks of several patients, of many types.
    expect(file.type).toBeUndefined();
    expect(file.count).toBe(file.lines.length);
    const first = headerOf(file.lines[0]);
    expect(first).toBeDefined();
    // A block that goes on in this file repeats its header first, and the previous file says so.
    const continued = index > 0 && first === previousOpen;
    if (index > 0) expect(files[index - 1].continuesInFile).toBe(continued ? file.url : undefined);
    if (continued) spans++;
    let open: string | undefined;
    for (const line of file.lines) {
      const header = headerOf(line);
      if (header !== undefined) {
        if (!(line === file.lines[0] && continued)) {
          // Contiguous: a patient's block is opened once in the whole export.
          expect(blocksSeen.has(header)).toBe(false);
          blocksSeen.add(header);
        }
        open = header;
        continue;
      }
      const key = `${String(line.resourceType)}/${String(line.id)}`;
      expect(`${key} in ${String(open)}`).toBe(`${key} in ${belongsTo(line, open) ? open : 'another block'}`);
    }
    previousOpen = open;
  });
  expect(files[files.length - 1].continuesInFile).toBeUndefined();
  expect(blocksSeen.size).toBeGreaterThan(1);
  // The small roll size makes some block span files.
  expect(spans).toBeGreaterThan(0);
}

/**
 * Whether `line` is in `patient`'s block as the IG has it: the patient itself, or a resource that
 * references it (a Group lists it as a member, an Observation as its subject, …).
 */
function belongsTo(line: Record<string, unknown>, patient: string | undefined): boolean {
  if (patient === undefined) return false;
  if (line.resourceType === 'Patient') return patientOf(line) === patient;
  return JSON.stringify(line).includes(`"reference":"${patient}"`);
}

/** The distinct resources of an organized export (one that references two patients is in both blocks). */
function resourcesOf(organized: { files: OrganizedFile[] }): Array<Record<string, unknown>> {
  const lines = organized.files.flatMap((f) => f.lines).filter((l) => headerOf(l) === undefined);
  return [...new Map(lines.map((l) => [`${String(l.resourceType)}/${String(l.id)}`, l])).values()];
}

describe('organizeOutputBy=Patient (IG v3.0.0), Cosmos DB source', () => {
  let target: ConformanceApp;

  beforeAll(async () => {
    target = await startApp({ EXPORT_FILE_ROLL_BYTES: String(ROLL_BYTES) });
  });
  afterAll(() => target.app.dispose());

  it('Patient level: one contiguous block per patient behind its header, untyped files, continuesInFile; the resources of the plain export', async () => {
    const organized = await organizedExport(target, 'Patient/$export');
    expectOrganized(organized);
    const plain = await runExport(target, 'Patient/$export');
    expect(keys(resourcesOf(organized))).toEqual(exportedKeys(plain.resources));
  });

  it('Group level: organized the same way, with the resources of the plain Group export', async () => {
    const organized = await organizedExport(target, 'Group/demo-cohort/$export');
    expectOrganized(organized);
    const plain = await runExport(target, 'Group/demo-cohort/$export');
    expect(keys(resourcesOf(organized))).toEqual(exportedKeys(plain.resources));
  });

  it('refuses another organizeOutputBy value with 400', async () => {
    const response = await kickoff(target.base, 'Patient/$export', { query: 'organizeOutputBy=Encounter' });
    expectOperationOutcome(response, 400);
  });

  it('refuses organizeOutputBy at the system level with 400', async () => {
    const response = await kickoff(target.base, '$export', { query: 'organizeOutputBy=Patient' });
    expectOperationOutcome(response, 400);
  });
});

describe('organizeOutputBy=Patient (IG v3.0.0), FHIR REST source', () => {
  let server: FhirTestServer;
  let target: ConformanceApp;

  beforeAll(async () => {
    server = await startFhirTestServer();
    await server.seed(seededResources());
    target = await startFhirSourceApp(server.baseUrl, { EXPORT_FILE_ROLL_BYTES: String(ROLL_BYTES) });
  });
  afterAll(async () => {
    await target?.app.dispose();
    await server?.close();
  });

  it('Patient level: organized as the IG says, with the resources of the plain export', async () => {
    const organized = await organizedExport(target, 'Patient/$export');
    expectOrganized(organized);
    const plain = await runExport(target, 'Patient/$export');
    expect(keys(resourcesOf(organized))).toEqual(exportedKeys(plain.resources));
  });
});
