import * as path from 'node:path';
import { startLocalRuntime } from './runtime';

/**
 * `npm start`: runs the compiled app (dist/functions/index.js) on the embedded runtime.
 * PORT (default 7071) and LOCAL_DATA_DIR (default .local/data) configure it.
 */
async function main(): Promise<void> {
  const runtime = await startLocalRuntime({
    appEntry: path.join(__dirname, '..', '..', 'functions', 'index.js'),
    port: Number(process.env.PORT ?? 7071),
    dataDir: process.env.LOCAL_DATA_DIR ?? path.resolve('.local', 'data'),
    taskHubName: process.env.TASK_HUB_NAME,
    log: (line) => console.log(line),
  });
  console.log(`Functions: ${runtime.apiBaseUrl}`);
  const shutdown = (): void => {
    void runtime.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
