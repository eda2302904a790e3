/** The command-line tools (`npm run seed`, `npm run export`) as child processes against a running app. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AppProcess } from '../support/appProcess';
import { expectedKeys } from '../support/exportFixtures';

const run = promisify(execFile);
const DIST_SCRIPTS = path.resolve(__dirname, '..', '..', 'dist', 'scripts');

async function script(name: string, args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(DIST_SCRIPTS, name), ...args], {
      env,
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('command-line tools', () => {
  const PATIENTS = 3;
  const app = new AppProcess();
  const out = mkdtempSync(path.join(tmpdir(), 'fhir-export-cli-'));
  afterAll(async () => {
    await app.dispose();
    rmSync(out, { recursive: true, force: true });
  });

  it('given an empty database, when seeding and then exporting with the CLI, then the files hold the seeded resources', async () => {
    const cosmosEnv = {
      PATH: process.env.PATH ?? '',
      COSMOS_ENDPOINT: app.env.COSMOS_ENDPOINT,
      COSMOS_KEY: app.env.COSMOS_KEY,
      COSMOS_DATABASE: app.database,
    };
    const seeded = await script('seed.js', ['--patients', String(PATIENTS), '--seed', '1'], cosmosEnv);
    expect(seeded.stderr).toBe('');
    expect(seeded.code).toBe(0);
    const expected = expectedKeys(PATIENTS);
    expect(seeded.stdout).toMatch(new RegExp(`Patient\\s+${PATIENTS}\\b`));
    expect(seeded.stdout).toMatch(new RegExp(`Observation\\s+${expected.get('Observation')?.length}\\b`));

    const base = await app.start();
    const exported = await script(
      'exportClient.js',
      ['--base', base, '--type', 'Patient,Condition', '--out', out],
      { PATH: process.env.PATH ?? '' },
    );
    expect(exported.code).toBe(0);
    // Not a terminal: progress comes as plain lines, never as carriage-return redraws.
    expect(exported.stderr).not.toContain('\r');
    const manifest = JSON.parse(exported.stdout) as { output: Array<{ type: string; count: number }> };
    expect([...new Set(manifest.output.map((o) => o.type))].sort()).toEqual(['Condition', 'Patient']);

    const files = readdirSync(out).sort();
    expect(files.length).toBe(manifest.output.length);
    const ids: Record<string, string[]> = {};
    for (const file of files) {
      for (const line of readFileSync(path.join(out, file), 'utf8')
        .split('\n')
        .filter((l) => l !== '')) {
        const resource = JSON.parse(line) as { resourceType: string; id: string };
        (ids[resource.resourceType] ??= []).push(resource.id);
      }
    }
    expect(Object.fromEntries(Object.entries(ids).map(([t, list]) => [t, list.sort()]))).toEqual({
      Condition: [...(expected.get('Condition') ?? [])].sort(),
      Patient: [...(expected.get('Patient') ?? [])].sort(),
    });
  });

  it('given a bad --since, when exporting with the CLI, then it exits non-zero with the OperationOutcome text', async () => {
    const base = app.apiBaseUrl || (await app.start());
    const result = await script('exportClient.js', ['--base', base, '--since', 'yesterday', '--out', out], {
      PATH: process.env.PATH ?? '',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/HTTP 400/);
    expect(result.stderr).toMatch(/error: .*_since/);
  });
});
