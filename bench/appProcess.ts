/**
 * The app process a bench export runs in: the embedded runtime's app host, or the real-engine host
 * (`--engine real`: the Durable Task extension in a .NET process, with the app in its Node worker).
 * Either prints `READY {apiBaseUrl}` once it serves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { engineEnvironment, engineHostCommand } from '../engine/launch';
import { WORKER_NODE_ARGUMENTS } from '../dev/runtime/workerArguments';

const APP_HOST = path.join(__dirname, '..', 'dev', 'runtime', 'appHost.js');

export type BenchEngine = 'embedded' | 'real';

export interface AppHandle {
  child: ChildProcess;
  apiBaseUrl: string;
  dataDir: string;
  /** The file the runtime traces its invocations into (real engine only). */
  traceFile?: string;
  stop(): Promise<void>;
}

export interface AppOptions {
  engine: BenchEngine;
  env: Record<string, string>;
  /** Node options after the app's own (a later V8 flag wins). */
  nodeArgs: string[];
  /** Another build of the app (a folder with host.json and package.json `main`), e.g. the deployment package. */
  appRoot?: string;
}

export async function startApp(options: AppOptions): Promise<AppHandle> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-app-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    DATA_DIR: dataDir,
    AUTH_MODE: 'none',
    APP_HOST_EXIT_WITH_STDIN: '1',
    EXPORT_POLL_MIN_INTERVAL_MS: '0',
    EXPORT_POLL_RETRY_AFTER_SECONDS: '1',
    ...options.env,
    ...(options.appRoot
      ? { [options.engine === 'real' ? 'ENGINE_APP_ROOT' : 'APP_ROOT']: options.appRoot }
      : {}),
  };
  let command: string;
  let args: string[];
  let traceFile: string | undefined;
  if (options.engine === 'real') {
    ({ command, args } = engineHostCommand());
    traceFile = path.join(dataDir, 'trace.ndjson');
    Object.assign(
      env,
      engineEnvironment({
        HOME: process.env.HOME ?? tmpdir(),
        TASK_HUB_NAME: `bench${Date.now()}`,
        DURABLE_TRACE_FILE: traceFile,
        ...env,
      }),
    );
    env.languageWorkers__node__arguments = [...WORKER_NODE_ARGUMENTS, ...options.nodeArgs].join(' ');
  } else {
    command = process.execPath;
    args = [...WORKER_NODE_ARGUMENTS, ...options.nodeArgs, APP_HOST];
  }
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const apiBaseUrl = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
      const match = /READY (\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`app exited early (${code}): ${output}`)));
  });
  return {
    child,
    apiBaseUrl,
    dataDir,
    traceFile,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The process and its descendants (the real-engine host's Node worker). */
export function processTree(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) children.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    return [];
  }
  return [pid, ...children.flatMap(processTree)];
}
