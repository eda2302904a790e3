/**
 * `npm start` as a user runs it (the compiled `start.js`): emulators, demo data, the supervised app.
 * A SIGKILLed app is started again and an export in flight finishes; stopping ends the app too.
 *
 * In the jest project `engine` it runs `start.js --engine` (`npm run start:engine`): the supervised
 * app is then the engine host (dotnet), which runs the app's functions in a Node worker child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BulkDataClient } from '../../dev/client/bulkDataClient';
import { WORKER_NODE_ARGUMENTS } from '../../dev/runtime/workerArguments';
import { eventually, isAlive, managementOf, waitForRuntimeStatus } from '../support/e2eHelpers';
import { downloadAll, expectedKeys, idsByType } from '../support/exportFixtures';
import { ENGINE_TEST_SETTINGS, onRealEngine } from '../support/testRuntime';

const START = path.resolve(__dirname, '..', '..', 'dist', 'dev', 'runtime', 'start.js');
const DEMO_PATIENTS = 6;
const ENGINE = onRealEngine();
// A killed engine host's work is taken over once its leases and dequeued messages time out (about a
// minute with ENGINE_TEST_SETTINGS); the embedded runtime resumes at once.
const RECOVERY_TIMEOUT_MS = ENGINE ? 360_000 : 120_000;
const engineOnly = ENGINE ? it : it.skip;

/** The command line of a process as the kernel holds it: arguments separated by NUL bytes. */
function commandLineOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
}

/** Ids of the running processes whose parent is `pid` (field 4 of /proc/<id>/stat, after the name). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // it ended while the list was read
    }
    // The name in parentheses may hold spaces and parentheses itself; the fields after it do not.
    const [, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(parent) === pid) children.push(Number(entry));
  }
  return children;
}

/**
 * Whether a process has ended. A zombie counts: it holds no port or memory any more, and an orphan
 * stays one until whoever adopted it reaps it.
 */
function hasEnded(pid: number): boolean {
  if (!isAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * The process that runs the functions: the supervised app itself on the embedded runtime, the
 * engine host's Node worker child on the real engine.
 */
function functionsProcessOf(appPid: number): number {
  if (!ENGINE) return appPid;
  const workers = childrenOf(appPid).filter((child) => commandLineOf(child)[0] === process.execPath);
  expect(workers).toHaveLength(1);
  return workers[0];
}

describe(ENGINE ? 'npm run start:engine' : 'npm start', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-export-start-'));
  let supervisor: ChildProcess;
  let output = '';
  const readAppPid = () => Number(readFileSync(path.join(dataDir, 'runtime.pid'), 'utf8'));
  const baseUrl = () => /FHIR base URL: (\S+)/.exec(output)?.[1] as string;

  beforeAll(() => {
    supervisor = spawn(process.execPath, ENGINE ? [START, '--engine'] : [START], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: dataDir,
        DEMO_PATIENTS: String(DEMO_PATIENTS),
        EXPORT_RESOURCES_PER_PAGE: '10',
        EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
        // The .NET host keeps its first-run and NuGet state under HOME.
        ...(ENGINE ? { HOME: process.env.HOME ?? tmpdir(), ...ENGINE_TEST_SETTINGS } : {}),
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
      ENGINE ? 180_000 : 60_000,
      100,
    );
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/);
    expect(output).toMatch(/AUTH_MODE=none/);
    expect(output).toMatch(/Seeded \d+ demo resources for 6 patients/);
    expect(output).toMatch(ENGINE ? /real Durable Task extension/ : /embedded durable runtime/);
    const metadata = await fetch(`${base}/metadata`);
    expect(metadata.status).toBe(200);
  });

  it('runs the functions with the Node options a deployed worker gets', () => {
    const commandLine = commandLineOf(functionsProcessOf(readAppPid()));
    expect(commandLine.slice(1, 1 + WORKER_NODE_ARGUMENTS.length)).toEqual(WORKER_NODE_ARGUMENTS);
    expect(commandLine[1 + WORKER_NODE_ARGUMENTS.length]).toMatch(
      ENGINE ? /engineWorker\.js$/ : /appHost\.js$/,
    );
  });

  engineOnly(
    'given a finished export, its statusQueryGetUri answers Completed from the Durable Task extension',
    async () => {
      const client = new BulkDataClient(baseUrl());
      const kickoff = await client.kickoff('$export', { query: '_type=Patient' });
      expect(kickoff.status).toBe(202);
      const { statusQueryGetUri } = managementOf(kickoff.body);
      // The link points at the app, which hands it on to the extension's own management API.
      expect(new URL(statusQueryGetUri).origin).toBe(new URL(client.baseUrl).origin);
      expect(new URL(statusQueryGetUri).pathname).toMatch(/^\/runtime\/webhooks\/durabletask\/instances\//);

      await client.waitForManifest(kickoff.pollUrl as string, { timeoutMs: 120_000 });
      const status = await waitForRuntimeStatus(statusQueryGetUri, ['Completed', 'Failed', 'Terminated']);
      expect(status.runtimeStatus).toBe('Completed');
    },
  );

  it('given an export in flight, when the app process is SIGKILLed, then it is restarted and the export completes exactly', async () => {
    const client = new BulkDataClient(baseUrl());
    const kickoff = await client.kickoff('$export');
    expect(kickoff.status).toBe(202);
    const { statusQueryGetUri } = managementOf(kickoff.body);

    const firstPid = readAppPid();
    const firstWorker = functionsProcessOf(firstPid);
    process.kill(firstPid, 'SIGKILL');
    const secondPid = await eventually(
      'a restarted app',
      async () => {
        const pid = readAppPid();
        return pid !== firstPid && isAlive(pid) ? pid : undefined;
      },
      60_000,
      100,
    );
    expect(secondPid).not.toBe(firstPid);
    // The killed app's functions process ends too (on the engine, the host's Node worker child, which
    // sees its stdin close): no orphan keeps the port.
    await eventually(
      'the killed app to end',
      async () => (hasEnded(firstWorker) ? true : undefined),
      30_000,
      100,
    );
    // Until the restarted app is ready, polls are refused, or answered 503 with Retry-After while
    // the engine host has not yet handed its worker the durable client: the client polls on.
    const manifest = await client.waitForManifest(kickoff.pollUrl as string, {
      timeoutMs: RECOVERY_TIMEOUT_MS,
    });
    const { resources } = await downloadAll(client, manifest);
    const expected = Object.fromEntries(
      [...expectedKeys(DEMO_PATIENTS)].map(([t, ids]) => [t, [...ids].sort()]),
    );
    expect(idsByType(resources)).toEqual(expected);
    const status = await waitForRuntimeStatus(statusQueryGetUri, ['Completed', 'Failed', 'Terminated']);
    expect(status.runtimeStatus).toBe('Completed');
  });

  it('when stopped with SIGTERM, it exits cleanly and takes its app process with it', async () => {
    const appPid = readAppPid();
    const functionsPid = functionsProcessOf(appPid);
    const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
    supervisor.kill('SIGTERM');
    expect(await exited).toBe(0);
    // It stopped on SIGTERM, not because the supervisor gave up waiting and killed it.
    expect(output).not.toMatch(/did not stop within/);
    await eventually(
      'the app to exit',
      async () => (hasEnded(appPid) && hasEnded(functionsPid) ? true : undefined),
      10_000,
      100,
    );
  });
});
