/**
 * A process that hosts Azurite and the Cosmos DB emulator and prints one line,
 * `EMULATORS {json connection info}`, on stdout once both listen.
 *
 * Usage: `node dist/dev/runtime/emulatorHost.js [--location DIR] [--extentMemoryLimit MB]`.
 * It stops both emulators and exits on SIGTERM/SIGINT, or when its stdin closes, which happens when
 * the parent that spawned it with a pipe dies, however it dies.
 */
import { EMULATOR_HOST_READY_PREFIX, EmulatorOptions, RunningEmulators, startEmulators } from './emulators';

function parseArgs(argv: string[]): EmulatorOptions {
  const options: EmulatorOptions = { azurite: {} };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--location') options.azurite!.location = argv[++i];
    else if (argv[i] === '--extentMemoryLimit') options.azurite!.extentMemoryLimitMb = Number(argv[++i]);
    else throw new Error(`Unknown argument ${argv[i]}`);
  }
  return options;
}

async function main(): Promise<void> {
  const emulators: RunningEmulators = await startEmulators(parseArgs(process.argv.slice(2)));
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 10000).unref();
    emulators.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
  const { stop: _stop, ...info } = emulators;
  process.stdout.write(`${EMULATOR_HOST_READY_PREFIX}${JSON.stringify(info)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
