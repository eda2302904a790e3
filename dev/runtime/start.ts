/**
 * `npm start`: the whole service on this machine, on embedded defaults.
 *
 * Starts Azurite (data under DATA_DIR) and the Cosmos DB emulator in this process, seeds demo data
 * when the store is empty, then runs the app (`appHost`) as a child process and restarts it whenever
 * it dies, the way the Functions host recycles a worker: unfinished exports resume from their
 * durable history and checkpoints. Prints the FHIR base URL once a kick-off can be taken.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { DEMO_GROUP_ID, seedDemoData } from '../demo/seedDemo';
import { ANONYMIZATION_CONTAINER } from '../../src/export/anonymizationRequest';
import { getCosmosClient } from '../../src/jobs/cosmosClient';
import { readText } from '../../src/settings/setting';
import { localSettingsFromEnv } from '../../src/settings/hostSettings';
import { COSMOS, SOURCE_KIND } from '../../src/settings/serviceSettings';
import { createCosmosResourceWriter } from '../demo/cosmosResourceWriter';
import { APP_READY_PREFIX } from './appHost';
import { startEmulators, type RunningEmulators } from './emulators';
import { WORKER_NODE_ARGUMENTS } from './workerArguments';
import {
  DOTNET_MISSING,
  dotnetSdkAvailable,
  engineEnvironment,
  engineHostCommand,
} from '../../engine/launch';

const RESTART_DELAY_MS = 1000;
/**
 * How long a stopping app may take before it is killed: the engine host stops within 10 s and its
 * worker within 10 s more, so only a hung app reaches this.
 */
const STOP_GRACE_MS = 30_000;

/** `--engine`: the orchestrations run on the real Durable Task extension (engine/) instead of the embedded runtime. */
const onRealEngine = process.argv.includes('--engine');

async function main(): Promise<void> {
  // Checked before anything starts: a missing SDK is then one line, not a failed spawn after seeding.
  if (onRealEngine && !dotnetSdkAvailable()) {
    console.error(DOTNET_MISSING);
    process.exit(1);
  }
  // Throws a one-line message when the host is not built yet, also before anything has started.
  const engineCommand = onRealEngine ? engineHostCommand() : undefined;
  // Read before anything starts, so that a bad value stops here with the setting's name.
  const { port, dataDir, demoPatients } = localSettingsFromEnv(process.env);
  mkdirSync(dataDir, { recursive: true });

  console.log(`Starting the emulators (data in ${path.relative(process.cwd(), dataDir) || '.'}) ...`);
  const emulators = await startEmulators({ azurite: { location: path.join(dataDir, 'azurite') } });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    DATA_DIR: dataDir,
    COSMOS_ENDPOINT: emulators.cosmosEndpoint,
    COSMOS_KEY: emulators.cosmosKey,
    EXPORT_STORAGE_CONNECTION_STRING: emulators.storageConnectionString,
    AUTH_MODE: process.env.AUTH_MODE ?? 'none',
    APP_HOST_EXIT_WITH_STDIN: '1',
    SOURCE_KIND: process.env.SOURCE_KIND ?? SOURCE_KIND.default,
  };
  if (env.SOURCE_KIND === 'cosmos') await seedIfEmpty(emulators, env, demoPatients);
  await uploadExampleConfiguration(emulators.storageConnectionString);
  // Compared the way readAuthConfig reads it, so `NONE` or ` none` warn as well.
  if (env.AUTH_MODE.trim().toLowerCase() === 'none') {
    console.warn('WARNING: AUTH_MODE=none - anyone who can reach this port can export every resource.');
  }

  const app = engineCommand
    ? { ...engineCommand, env: engineEnvironment(env) }
    : {
        command: process.execPath,
        args: [...WORKER_NODE_ARGUMENTS, path.join(__dirname, 'appHost.js')],
        env,
      };
  console.log(
    engineCommand
      ? 'Orchestrations run on the real Durable Task extension (engine/host), task hub in Azurite.'
      : 'Orchestrations run on the embedded durable runtime.',
  );
  const supervisor = new AppSupervisor(app, path.join(dataDir, 'runtime.pid'));
  const shutdown = async () => {
    await supervisor.stop();
    await emulators.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());

  const apiBaseUrl = await supervisor.start();
  console.log('');
  console.log(`FHIR base URL: ${apiBaseUrl}`);
  console.log('Kick off a system export:');
  console.log(
    `  curl -i -H 'Accept: application/fhir+json' -H 'Prefer: respond-async' '${apiBaseUrl}/$export'`,
  );
  console.log(`Or a Group export: ${apiBaseUrl}/Group/${DEMO_GROUP_ID}/$export`);
  console.log(`Or with the client: npm run export -- --base ${apiBaseUrl} --out exported`);
  console.log(`De-identified: ${apiBaseUrl}/$export?_anonymizationConfig=${EXAMPLE_CONFIGURATION}`);
}

/** The Safe Harbor configuration of the tests, offered as an example on the local storage account. */
const EXAMPLE_CONFIGURATION = 'safe-harbor.json';

/** Puts the example configuration into the `anonymization` container, unless one of its name is there. */
async function uploadExampleConfiguration(connectionString: string): Promise<void> {
  const container =
    BlobServiceClient.fromConnectionString(connectionString).getContainerClient(ANONYMIZATION_CONTAINER);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(EXAMPLE_CONFIGURATION);
  if (await blob.exists()) return;
  // From dist/dev/runtime back to the repository's test fixtures.
  const file = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'deid', EXAMPLE_CONFIGURATION);
  const text = readFileSync(file);
  await blob.upload(text, text.length);
}

async function seedIfEmpty(
  emulators: RunningEmulators,
  env: Record<string, string>,
  patients: number,
): Promise<void> {
  const client = getCosmosClient({ endpoint: emulators.cosmosEndpoint, key: emulators.cosmosKey });
  const writer = await createCosmosResourceWriter(
    client,
    readText(env, COSMOS.database),
    readText(env, COSMOS.resourcesContainer),
  );
  const { resources } = await writer.container.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
  if (Number(resources[0] ?? 0) > 0) return;
  const seeded = await seedDemoData(writer, { patients });
  console.log(`Seeded ${seeded.resources} demo resources for ${patients} patients.`);
}

interface AppCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * Runs the app child (the embedded runtime's app process, or the engine host with its worker) and
 * starts it again whenever it exits without being asked to.
 */
class AppSupervisor {
  private child?: ChildProcess;
  private stopping = false;
  private readonly env: Record<string, string>;

  constructor(
    private readonly app: AppCommand,
    private readonly pidFile: string,
  ) {
    this.env = app.env;
  }

  /** Starts the child; resolves with its API base URL once it is ready. */
  start(): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.app.command, this.app.args, {
        env: this.env,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      this.child = child;
      writeFileSync(this.pidFile, `${child.pid}\n`);
      let ready = false;
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (!ready && line.startsWith(APP_READY_PREFIX)) {
            ready = true;
            const apiBaseUrl = line.slice(APP_READY_PREFIX.length).trim();
            // A restarted app must come back where clients know it (PORT=0 picks a port once).
            this.env.PORT = new URL(apiBaseUrl).port;
            resolve(apiBaseUrl);
          } else if (line.trim()) {
            console.log(line);
          }
        }
      });
      child.on('exit', (code, signal) => {
        if (this.stopping) return;
        if (!ready) {
          reject(new Error(`The app process exited before it was ready (code ${code}, signal ${signal})`));
          return;
        }
        console.warn(`The app process exited (code ${code}, signal ${signal}); restarting it.`);
        setTimeout(() => {
          if (!this.stopping) this.start().catch((error: unknown) => console.error(error));
        }, RESTART_DELAY_MS);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const kill = setTimeout(() => {
        console.warn(`The app process did not stop within ${STOP_GRACE_MS / 1000} s; killing it.`);
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(kill);
    }
    rmSync(this.pidFile, { force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
