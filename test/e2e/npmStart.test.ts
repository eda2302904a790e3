/**
 * `npm start` as a user runs it (the compiled `start.js`): emulators, demo data, the supervised app.
 * A SIGKILLed app is started again and an export in flight finishes; stopping ends the app too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BulkDataClient } from '../../src/client/bulkDataClient';
import { WORKER_NODE_ARGUMENTS } from '../../src/local/workerArguments';
import { eventually, isAlive } from '../support/e2eHelpers';
import { downloadAll, expectedKeys, idsByType } from '../support/exportFixtures';

const START = path.resolve(__dirname, '..', '..', 'dist', 'src', 'local', 'start.js');
const DEMO_PATIENTS = 6;

describe('npm start', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-export-start-'));
  let supervisor: ChildProcess;
  let output = '';

  beforeAll(() => {
    supervisor = spawn(process.execPath, [START], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: dataDir,
        DEMO_PATIENTS: String(DEMO_PATIENTS),
        EXPORT_RESOURCES_PER_PAGE: '10',
        EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    supervisor.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    supervisor.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  });

  afterAll(async () => {
    if (supervisor.exitCode === null) {
      supervisor.kill('SIGKILL');
      await new Promise((resolve) => supervisor.once('exit', resolve));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('given a fresh data folder, it seeds demo data, says anyone can export, and prints the FHIR base URL once ready', async () => {
    const base = await eventually(
      'the base URL',
      async () => /FHIR base URL: (\S+)/.exec(output)?.[1],
      60_000,
      100,
    );
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(output).toMatch(/AUTH_MODE=none/);
    expect(output).toMatch(/Seeded \d+ demo resources for 6 patients/);
    const metadata = await fetch(`${base}/metadata`);
    expect(metadata.status).toBe(200);
  });

  it('runs the app process with the Node options a deployed worker gets', () => {
    const appPid = Number(readFileSync(path.join(dataDir, 'runtime.pid'), 'utf8'));
    // The command line as the kernel holds it: arguments separated by NUL bytes.
    const commandLine = readFileSync(`/proc/${appPid}/cmdline`, 'utf8').split('\0');
    expect(commandLine.slice(1, 1 + WORKER_NODE_ARGUMENTS.length)).toEqual(WORKER_NODE_ARGUMENTS);
  });

  it('given an export in flight, when the app process is SIGKILLed, then it is restarted and the export completes exactly', async () => {
    const base = /FHIR base URL: (\S+)/.exec(output)?.[1] as string;
    const client = new BulkDataClient(base);
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);

    const firstPid = Number(readFileSync(path.join(dataDir, 'runtime.pid'), 'utf8'));
    process.kill(firstPid, 'SIGKILL');
    const secondPid = await eventually(
      'a restarted app',
      async () => {
        const pid = Number(readFileSync(path.join(dataDir, 'runtime.pid'), 'utf8'));
        return pid !== firstPid && isAlive(pid) ? pid : undefined;
      },
      60_000,
      100,
    );
    expect(secondPid).not.toBe(firstPid);

    const manifest = await client.waitForManifest(kickoff.pollUrl as string, { timeoutMs: 120_000 });
    const { resources } = await downloadAll(client, manifest);
    const expected = Object.fromEntries(
      [...expectedKeys(DEMO_PATIENTS)].map(([t, ids]) => [t, [...ids].sort()]),
    );
    expect(idsByType(resources)).toEqual(expected);
  });

  it('when stopped with SIGTERM, it exits cleanly and takes its app process with it', async () => {
    const appPid = Number(readFileSync(path.join(dataDir, 'runtime.pid'), 'utf8'));
    const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
    supervisor.kill('SIGTERM');
    expect(await exited).toBe(0);
    await eventually('the app to exit', async () => (isAlive(appPid) ? undefined : true), 10_000, 100);
  });
});
