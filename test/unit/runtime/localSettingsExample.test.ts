/**
 * `local.settings.example.json` (for `func start` on the Core Tools) keeps to what `npm start` and
 * `npm run start:engine` run with: the same task hub, the same worker Node options, Azurite and the
 * Cosmos DB emulator's published key, and settings the app's configuration accepts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../../src/config';
import { COSMOS_EMULATOR_KEY } from '../../../dev/runtime/emulators';
import { WORKER_NODE_ARGUMENTS } from '../../../dev/runtime/workerArguments';
import { engineEnvironment } from '../../../engine/launch';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const readJson = <T>(name: string): T => JSON.parse(readFileSync(path.join(ROOT, name), 'utf8')) as T;

describe('local.settings.example.json', () => {
  const { Values: values } = readJson<{ Values: Record<string, string> }>('local.settings.example.json');

  it('runs the Node worker on Azurite with the Node options every other start uses', () => {
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(values.languageWorkers__node__arguments).toBe(WORKER_NODE_ARGUMENTS.join(' '));
  });

  it('names the task hub that host.json reads and npm run start:engine uses by default', () => {
    const hostJson = readJson<{ extensions: { durableTask: { hubName: string } } }>('host.json');
    expect(hostJson.extensions.durableTask.hubName).toBe('%TASK_HUB_NAME%');
    expect(values.TASK_HUB_NAME).toBe(engineEnvironment({}).TASK_HUB_NAME);
  });

  it("holds settings the app's configuration accepts, for the local emulators", () => {
    const config = loadConfig(values);
    expect(config.cosmos.key).toBe(COSMOS_EMULATOR_KEY);
    expect(config.storage.connectionString).toBe('UseDevelopmentStorage=true');
    expect(config.sourceKind).toBe('cosmos');
    expect(config.auth.mode).toBe('none');
  });
});
