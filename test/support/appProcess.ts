/**
 * Runs the app as a child process against the test emulators, the way `npm start` and
 * `npm run start:engine` run it: real HTTP on loopback, real Cosmos and Blob adapters, and the
 * durable runtime of the test run (`testRuntime.ts`): the real engine host (`engine/host`, which starts
 * its own Node worker) or the embedded runtime's app process (`dist/dev/runtime/appHost.js`). Each
 * instance gets its own database, container, data folder and task hub.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { testConnectionInfo, uniqueName } from './testEnv';
import { WORKER_NODE_ARGUMENTS } from '../../dev/runtime/workerArguments';
import { engineEnvironment, engineHostCommand } from '../../engine/launch';
import { ENGINE_TEST_SETTINGS, onRealEngine } from './testRuntime';

const APP_HOST = path.resolve(__dirname, '..', '..', 'dist', 'dev', 'runtime', 'appHost.js');

export interface AppProcessOptions {
  /** Extra or overriding environment variables for the app. */
  env?: Record<string, string>;
  /** Keep the app's stdout/stderr for assertions and debugging. */
  echo?: boolean;
  /**
   * Another host of the same app: this one uses its database, export container and task hub, as a
   * second instance of one function app does (its own port and data folder).
   */
  hostOf?: AppProcess;
  /** Another build of the app to load (a folder with host.json and package.json `main`), e.g. the deployment package. */
  appRoot?: string;
  /** The durable runtime, when a test needs one other than its jest project's. */
  runtime?: 'embedded' | 'engine';
}

export class AppProcess {
  readonly dataDir = mkdtempSync(path.join(tmpdir(), 'fhir-export-app-'));
  readonly database: string;
  readonly container: string;
  /** Shared by every host of this app (two workers on one task hub), apart from other apps'. */
  readonly taskHubName: string;
  readonly onRealEngine: boolean;
  apiBaseUrl = '';
  output = '';
  private child?: ChildProcess;
  private port = 0;

  constructor(private readonly options: AppProcessOptions = {}) {
    this.onRealEngine = options.runtime ? options.runtime === 'engine' : onRealEngine();
    const peer = options.hostOf;
    this.database = peer?.database ?? uniqueName('db');
    this.container = peer?.container ?? uniqueName('exports');
    this.taskHubName = peer?.taskHubName ?? `Hub${uniqueName('t')}`;
  }

  /** The environment the app runs with (also what a test needs to reach the same stores). */
  get env(): Record<string, string> {
    const info = testConnectionInfo();
    return {
      PATH: process.env.PATH ?? '',
      PORT: String(this.port),
      DATA_DIR: this.dataDir,
      COSMOS_ENDPOINT: info.cosmosEndpoint,
      COSMOS_KEY: info.cosmosKey,
      COSMOS_DATABASE: this.database,
      EXPORT_STORAGE_CONNECTION_STRING: info.storageConnectionString,
      EXPORT_CONTAINER: this.container,
      AUTH_MODE: 'none',
      SOURCE_KIND: 'cosmos',
      EXPORT_POLL_MIN_INTERVAL_MS: '0',
      EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
      EXPORT_RETRY_FIRST_INTERVAL_MS: '200',
      EXPORT_RETRY_MAX_INTERVAL_MS: '1000',
      APP_HOST_EXIT_WITH_STDIN: '1',
      TASK_HUB_NAME: this.taskHubName,
      ...(this.onRealEngine
        ? {
            HOME: process.env.HOME ?? '/tmp',
            AzureWebJobsStorage: info.storageConnectionString,
            ...ENGINE_TEST_SETTINGS,
          }
        : {}),
      ...(this.options.appRoot
        ? { [this.onRealEngine ? 'ENGINE_APP_ROOT' : 'APP_ROOT']: this.options.appRoot }
        : {}),
      ...(this.options.env ?? {}),
    };
  }

  /** Starts the app and waits for its READY line. Restarts reuse the same port and data folder. */
  async start(): Promise<string> {
    if (!existsSync(APP_HOST))
      throw new Error(`${APP_HOST} is missing: run 'npm run build' first (npm test does)`);
    const { command, args } = this.onRealEngine
      ? engineHostCommand()
      : { command: process.execPath, args: [...WORKER_NODE_ARGUMENTS, APP_HOST] };
    const child = spawn(command, args, {
      env: this.onRealEngine ? engineEnvironment(this.env) : this.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.output += d.toString();
      if (this.options.echo) process.stderr.write(d);
    });
    this.apiBaseUrl = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout?.on('data', (d: Buffer) => {
        const text = d.toString();
        this.output += text;
        if (this.options.echo) process.stdout.write(d);
        buffered += text;
        const match = /READY (\S+)/.exec(buffered);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`app exited early (${code ?? signal}):\n${this.output.slice(-3000)}`)),
      );
    });
    this.port = Number(new URL(this.apiBaseUrl).port);
    return this.apiBaseUrl;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * The Node worker the engine host started (its child process, read from /proc); undefined on the
   * embedded runtime, whose app process is the worker itself.
   */
  workerPid(): number | undefined {
    const pid = this.child?.pid;
    if (!this.onRealEngine || pid === undefined) return undefined;
    const taskDir = `/proc/${pid}/task`;
    if (!existsSync(taskDir)) return undefined;
    const children = readdirSync(taskDir).flatMap((task) =>
      readFileSync(path.join(taskDir, task, 'children'), 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number),
    );
    return children[0];
  }

  /**
   * SIGKILL, as a crashed instance: no shutdown code runs. On the real engine it returns once the
   * host's Node worker has gone too (it ends with the host's stdin pipe), so a restart finds the
   * app's port free.
   */
  async kill(): Promise<void> {
    const worker = this.workerPid();
    await this.signal('SIGKILL');
    if (worker !== undefined) await processGone(worker);
  }

  /** SIGKILLs the engine host's Node worker; the host then ends itself, as a recycled instance. */
  async killWorker(): Promise<void> {
    const worker = this.workerPid();
    const child = this.child;
    if (worker === undefined || !child) throw new Error('no engine worker runs');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(worker, 'SIGKILL');
    await exited;
  }

  /** Whether the app's process is running (it may have ended by itself). */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}

/**
 * Waits until process `pid` has ended. It is not a child of this process, so it is polled; a zombie
 * (ended, not yet reaped by whoever inherited it) counts as ended.
 */
async function processGone(pid: number): Promise<void> {
  const stat = `/proc/${pid}/stat`;
  while (existsSync(stat)) {
    let state = 'Z';
    try {
      state = /^\d+ \(.*\) (\S)/.exec(readFileSync(stat, 'utf8'))?.[1] ?? 'Z';
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
