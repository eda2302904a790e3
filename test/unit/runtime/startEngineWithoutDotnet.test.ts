/**
 * `npm run start:engine` on a machine without the .NET SDK: both of its steps (`build:engine`, then
 * `start.js --engine`) say what is missing in one line and exit non-zero, before starting anything.
 * The compiled scripts run with a PATH whose folders hold no `dotnet`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DOTNET_MISSING } from '../../../engine/launch';

const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const PATH_WITHOUT_DOTNET = (process.env.PATH ?? '')
  .split(path.delimiter)
  .filter((folder) => folder !== '' && !existsSync(path.join(folder, 'dotnet')))
  .join(path.delimiter);

function runWithoutDotnet(script: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(DIST, script), ...args], {
    env: { PATH: PATH_WITHOUT_DOTNET, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run start:engine without the .NET SDK', () => {
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'fhir-export-nodotnet-')), 'data');
  afterAll(() => rmSync(path.dirname(dataDir), { recursive: true, force: true }));

  it('runs where dotnet cannot be found', () => {
    const probe = spawnSync('dotnet', ['--version'], { env: { PATH: PATH_WITHOUT_DOTNET } });
    expect((probe.error as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT');
  });

  it('build:engine prints the one line and fails', () => {
    const run = runWithoutDotnet(path.join('engine', 'build.js'), []);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`${DOTNET_MISSING}\n`);
    expect(run.status).toBe(1);
  });

  it('start.js --engine prints the one line and fails before it starts the emulators', () => {
    const run = runWithoutDotnet(path.join('dev', 'runtime', 'start.js'), ['--engine'], {
      DATA_DIR: dataDir,
      PORT: '0',
    });
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`${DOTNET_MISSING}\n`);
    expect(run.status).toBe(1);
    expect(existsSync(dataDir)).toBe(false);
  });
});
