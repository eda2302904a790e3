/**
 * How to build and start the real-engine host, for `npm run start:engine`, the tests and the bench.
 * The host (`dotnet dist/engine/host/DurableFhirExport.Engine.dll`) starts its own Node worker and
 * prints `READY {apiBaseUrl}`, as the embedded runtime's app process does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { WORKER_NODE_ARGUMENTS } from '../dev/runtime/workerArguments';
import { PLATFORM, platformSettingsFromEnv } from '../src/settings/hostSettings';

// This module runs compiled from dist/engine (node) and as source from engine/ (jest).
const REPO_ROOT = __dirname.split(path.sep).includes('dist')
  ? path.resolve(__dirname, '..', '..')
  : path.resolve(__dirname, '..');
export const ENGINE_HOST_DLL = path.join(REPO_ROOT, 'dist', 'engine', 'host', 'DurableFhirExport.Engine.dll');
const ENGINE_PROJECT = path.join(REPO_ROOT, 'engine', 'host');
const GENERATED_FUNCTIONS = path.join(ENGINE_PROJECT, 'Generated', 'AppFunctions.g.cs');

export const DOTNET_MISSING =
  'The real engine needs the .NET SDK 8 or later (`dotnet` on PATH); `npm start` runs without it.';

/** Whether a .NET SDK of version 8 or later is on PATH. */
export function dotnetSdkAvailable(): boolean {
  const result = spawnSync('dotnet', ['--version'], { encoding: 'utf8' });
  if (result.status !== 0) return false;
  return Number(result.stdout.trim().split('.')[0]) >= 8;
}

/**
 * Generates the host's trigger functions from the app's registrations and builds the host into
 * `dist/engine/host`. Needs the app built (`npm run build`).
 */
export function buildEngineHost(): void {
  if (!dotnetSdkAvailable()) throw new Error(DOTNET_MISSING);
  const generate = spawnSync(
    process.execPath,
    [path.join(REPO_ROOT, 'dist', 'engine', 'worker', 'generateFunctions.js'), GENERATED_FUNCTIONS],
    { stdio: 'inherit' },
  );
  if (generate.status !== 0) throw new Error('Generating the engine host functions failed.');
  const build = spawnSync(
    'dotnet',
    ['build', ENGINE_PROJECT, '-c', 'Release', '-o', path.dirname(ENGINE_HOST_DLL), '--nologo', '-v', 'q'],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
  );
  if (build.status !== 0) {
    process.stderr.write(build.stdout);
    throw new Error('Building the engine host failed.');
  }
}

/**
 * Settings the Durable Task extension needs beside the app's own. The task hub lives in the same
 * storage as the exports unless AzureWebJobsStorage says otherwise, as in the Azure template's
 * local equivalent.
 */
export function engineEnvironment(appEnv: Record<string, string>): Record<string, string> {
  return {
    ...appEnv,
    AzureWebJobsStorage: appEnv.AzureWebJobsStorage ?? appEnv.EXPORT_STORAGE_CONNECTION_STRING ?? '',
    [PLATFORM.taskHubName.name]: platformSettingsFromEnv(appEnv).taskHubName,
    ENGINE_NODE_BINARY: process.execPath,
    languageWorkers__node__arguments: WORKER_NODE_ARGUMENTS.join(' '),
    DOTNET_NOLOGO: '1',
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  };
}

/** The command that starts one engine host process. */
export function engineHostCommand(): { command: string; args: string[] } {
  if (!existsSync(ENGINE_HOST_DLL)) {
    throw new Error(`${ENGINE_HOST_DLL} is missing: run 'npm run build:engine' first`);
  }
  return { command: 'dotnet', args: [ENGINE_HOST_DLL] };
}
