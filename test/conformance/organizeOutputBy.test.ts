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
  type ConformanceApp,
  startApp,
} from './conformanceSupport';

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

describe('organizeOutputBy=Patient (IG v3.0.0)', () => {
  let target: ConformanceApp;
  let organized: { manifest: Record<string, unknown>; files: OrganizedFile[] };

  beforeAll(async () => {
    target = await startApp({ EXPORT_FILE_ROLL_BYTES: String(ROLL_BYTES) });
    organized = await organizedExport(target, 'Patient/$export');
  });
  afterAll(() => target.app.dispose());

  it('the manifest says outputOrganizedBy Patient and its files have no type', () => {
    expect(organized.manifest.outputOrganizedBy).toBe('Patient');
    expect(organized.files.length).toBeGreaterThan(1);
    for (const file of organized.files) {
      expect(file.type).toBeUndefined();
      expect(file.count).toBe(file.lines.length);
    }
  });

  it("every file starts with a header, and each patient's resources follow its header, contiguous", () => {
    const blocksSeen = new Set<string>();
    let previous: { file: OrganizedFile; open: string } | undefined;
    for (const file of organized.files) {
      const first = headerOf(file.lines[0]);
      expect(first).toBeDefined();
      let open: string | undefined;
      for (const line of file.lines) {
        const header = headerOf(line);
        if (header !== undefined) {
          // A patient's header appears again only where its block goes on in the next file.
          const reopened = line === file.lines[0] && previous?.open === header;
          if (!reopened) {
            expect(blocksSeen.has(header)).toBe(false);
            blocksSeen.add(header);
          }
          open = header;
          continue;
        }
        expect(`${String(line.resourceType)}/${String(line.id)} in ${String(open)}`).toBe(
          `${String(line.resourceType)}/${String(line.id)} in ${String(patientOf(line))}`,
        );
      }
      previous = { file, open: open as string };
    }
    expect(blocksSeen.size).toBeGreaterThan(1);
  });

  it('continuesInFile names the next file exactly when the last block goes on there', () => {
    const { files } = organized;
    let spans = 0;
    for (let i = 0; i < files.length - 1; i++) {
      const headers = files[i].lines.map(headerOf).filter((h): h is string => h !== undefined);
      const goesOn = headerOf(files[i + 1].lines[0]) === headers[headers.length - 1];
      if (goesOn) {
        spans++;
        expect(files[i].continuesInFile).toBe(files[i + 1].url);
      } else {
        expect(files[i].continuesInFile).toBeUndefined();
      }
    }
    expect(files[files.length - 1].continuesInFile).toBeUndefined();
    expect(spans).toBeGreaterThan(0);
  });

  it('holds exactly the resources of the same export without organizeOutputBy', async () => {
    const plain = await runExport(target, 'Patient/$export');
    const resources = organized.files.flatMap((f) => f.lines).filter((l) => headerOf(l) === undefined);
    expect(keys(resources)).toEqual(exportedKeys(plain.resources));
  });

  it('organizes a Group export too, with the same resources as the plain Group export', async () => {
    const group = await organizedExport(target, 'Group/demo-cohort/$export');
    const plain = await runExport(target, 'Group/demo-cohort/$export');
    const resources = group.files.flatMap((f) => f.lines).filter((l) => headerOf(l) === undefined);
    expect(keys(resources)).toEqual(exportedKeys(plain.resources));
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
