/**
 * The app process: the Functions app of `functions/` on the embedded durable runtime, configured
 * from the environment. `npm start` runs it as a supervised child (like the Functions host runs a
 * worker) and tests spawn it directly. Prints `READY {apiBaseUrl}` once it takes requests.
 */
import * as path from 'node:path';
import { loadConfig } from '../../src/config';
import { localSettingsFromEnv, platformSettingsFromEnv } from '../../src/settings/hostSettings';
import { setServiceOverrides } from '../../src/services';
import { exitOnShutdown } from './shutdown';
import { crashProbeFromEnv } from './crashInjection';
import { startLocalRuntime } from './runtime';
import { appEntry } from './appEntry';

export const APP_READY_PREFIX = 'READY ';

async function main(): Promise<void> {
  // A bad setting stops the process here, with the setting's name, before anything runs.
  loadConfig(process.env);
  const local = localSettingsFromEnv(process.env);
  const dataDir = local.dataDir;
  setServiceOverrides({ probe: crashProbeFromEnv(process.env.LOCAL_CRASH_AT, dataDir) });
  const runtime = await startLocalRuntime({
    // APP_ROOT: another build of the app, e.g. the deployment package's folder.
    appEntry: appEntry(process.env.APP_ROOT, path.join(__dirname, '..', '..', 'functions', 'index.js')),
    port: local.port,
    dataDir,
    taskHubName: platformSettingsFromEnv(process.env).taskHubName,
    maxConcurrentActivities: local.maxConcurrentActivities,
    log: (line) => console.log(line),
  });
  process.stdout.write(`${APP_READY_PREFIX}${runtime.apiBaseUrl}\n`);
  exitOnShutdown(() => runtime.stop(), { withStdin: process.env.APP_HOST_EXIT_WITH_STDIN === '1' });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
