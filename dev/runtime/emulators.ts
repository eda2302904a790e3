/**
 * Local emulators for `npm start` and the tests: Azurite (Blob, Queue, Table) as a child process and
 * the Cosmos DB emulator (`@vercel/cosmosdb-server`) in-process, both on loopback ports chosen by the
 * OS. Nothing here is used in production.
 *
 * Lifetime rules:
 * - Azurite runs behind a small watchdog preamble that holds the read end of a pipe from us on its
 *   stdin. When this process goes away for any reason (even SIGKILL) the pipe reaches EOF and Azurite
 *   shuts itself down, so no orphaned server keeps its ports or memory.
 * - The Cosmos emulator lives in the calling process and dies with it. It keeps everything in memory
 *   (the package has no persistence), so its data survives exactly as long as the process hosting it.
 *   `startEmulatorsProcess()` hosts both emulators in a child process of their own, which lets a
 *   parent restart the app (another child) while the data stays put.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** The account name and key that Azurite publishes for local development (not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The key the official Cosmos DB emulator publishes; `@vercel/cosmosdb-server` accepts any key. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

/** Where the emulators listen; plain data, safe to print as one JSON line. */
export interface EmulatorConnectionInfo {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  storageConnectionString: string;
  cosmosEndpoint: string;
  cosmosKey: string;
}

export interface RunningEmulators extends EmulatorConnectionInfo {
  stop(): Promise<void>;
}

export interface RunningAzurite {
  blobEndpoint: string;
  queueEndpoint: string;
  tableEndpoint: string;
  storageConnectionString: string;
  /** Process id of the Azurite child. */
  pid: number;
  stop(): Promise<void>;
}

export interface RunningCosmosEmulator {
  cosmosEndpoint: string;
  cosmosKey: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Directory for persistent data; omitted: in-memory. */
  location?: string;
  /** Cap for in-memory extent storage, in MiB (in-memory mode only). */
  extentMemoryLimitMb?: number;
  /** How long to wait for the three services to listen; default 30 s. */
  startTimeoutMs?: number;
}

export interface EmulatorOptions {
  azurite?: AzuriteOptions;
}

/** Builds an Azure Storage connection string for Azurite's account on the given endpoints. */
export function azuriteConnectionString(
  blobEndpoint: string,
  queueEndpoint: string,
  tableEndpoint: string,
): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT_NAME}`,
    `AccountKey=${AZURITE_ACCOUNT_KEY}`,
    `BlobEndpoint=${blobEndpoint}`,
    `QueueEndpoint=${queueEndpoint}`,
    `TableEndpoint=${tableEndpoint}`,
    '',
  ].join(';');
}

function azuriteBinPath(): string {
  const pkgJson = require.resolve('azurite/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { bin: Record<string, string> };
  return path.join(path.dirname(pkgJson), pkg.bin.azurite);
}

/**
 * Runs in front of Azurite's own entry point inside the child: it shuts Azurite down when stdin
 * closes (our end of the pipe is gone), and also lets the process exit after a SIGTERM even though
 * stdin is still being read. A hard exit follows if the graceful close takes too long.
 */
const AZURITE_WATCHDOG = `
const bin = process.argv[1];
process.argv = [process.argv[0], bin, ...process.argv.slice(2)];
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', () => { stop(); process.emit('SIGTERM', 'SIGTERM'); });
process.stdin.on('error', () => { stop(); process.emit('SIGTERM', 'SIGTERM'); });
process.stdin.resume();
require(bin);
`;

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitForExit(child, graceMs))) {
    child.kill('SIGKILL');
    await waitForExit(child, 2000);
  }
}

/** Starts Azurite with Blob, Queue and Table on free loopback ports. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const args = [
    '--silent',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    '0',
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    '0',
  ];
  if (options.location) {
    fs.mkdirSync(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
    if (options.extentMemoryLimitMb) args.push('--extentMemoryLimit', String(options.extentMemoryLimitMb));
  }

  const child = spawn(process.execPath, ['-e', AZURITE_WATCHDOG, azuriteBinPath(), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
  });
  // Our end of stdin stays open for the child's whole life; it must not keep this process alive.
  const stdin = child.stdin as unknown as { unref?: () => void } | null;
  stdin?.unref?.();
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();

  const endpoints: Record<string, string> = {};
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`Azurite did not start within ${options.startTimeoutMs ?? 30000} ms. ${stderr}`));
    }, options.startTimeoutMs ?? 30000);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /Azurite (Blob|Queue|Table) service is successfully listening at (\S+)/.exec(line);
      if (!m) return;
      endpoints[m[1].toLowerCase()] = m[2].replace(/\/$/, '');
      if (endpoints.blob && endpoints.queue && endpoints.table) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited during start-up (code ${code}, signal ${signal}). ${stderr}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  // Keep draining stdout so Azurite never blocks on a full pipe.
  child.stdout?.resume();

  const blobEndpoint = `${endpoints.blob}/${AZURITE_ACCOUNT_NAME}`;
  const queueEndpoint = `${endpoints.queue}/${AZURITE_ACCOUNT_NAME}`;
  const tableEndpoint = `${endpoints.table}/${AZURITE_ACCOUNT_NAME}`;
  return {
    blobEndpoint,
    queueEndpoint,
    tableEndpoint,
    storageConnectionString: azuriteConnectionString(blobEndpoint, queueEndpoint, tableEndpoint),
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

/** Loaded lazily: the package is a development dependency, absent from production installs. */
function loadCosmosServer(): typeof import('@vercel/cosmosdb-server') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@vercel/cosmosdb-server');
}

/** Starts the Cosmos DB emulator in this process, HTTPS with keep-alive, on a free loopback port. */
export async function startCosmosEmulator(): Promise<RunningCosmosEmulator> {
  const { createHttpsServer } = loadCosmosServer();
  const server = createHttpsServer({ keepAlive: true });
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    cosmosEndpoint: `https://127.0.0.1:${port}/`,
    cosmosKey: COSMOS_EMULATOR_KEY,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}

/** Starts Azurite (child) and the Cosmos DB emulator (in this process). */
export async function startEmulators(options: EmulatorOptions = {}): Promise<RunningEmulators> {
  const [azurite, cosmos] = await Promise.allSettled([startAzurite(options.azurite), startCosmosEmulator()]);
  if (azurite.status === 'rejected' || cosmos.status === 'rejected') {
    if (azurite.status === 'fulfilled') await azurite.value.stop();
    if (cosmos.status === 'fulfilled') await cosmos.value.stop();
    throw azurite.status === 'rejected' ? azurite.reason : (cosmos as PromiseRejectedResult).reason;
  }
  const a = azurite.value;
  const c = cosmos.value;
  return {
    blobEndpoint: a.blobEndpoint,
    queueEndpoint: a.queueEndpoint,
    tableEndpoint: a.tableEndpoint,
    storageConnectionString: a.storageConnectionString,
    cosmosEndpoint: c.cosmosEndpoint,
    cosmosKey: c.cosmosKey,
    stop: async () => {
      await Promise.all([a.stop(), c.stop()]);
    },
  };
}

/**
 * Node arguments that run `scriptPath`: a compiled `.js` file directly, a `.ts` file (tests running
 * from source) through an in-memory TypeScript transpile hook. The hook needs the `typescript`
 * development dependency, which is only there when sources are present.
 */
export function nodeArgsForScript(scriptPath: string): string[] {
  if (!scriptPath.endsWith('.ts')) return [scriptPath];
  const tsPath = require.resolve('typescript');
  const hook = `
const ts = require(${JSON.stringify(tsPath)});
const fs = require('fs');
require.extensions['.ts'] = (m, file) => {
  const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  }).outputText;
  m._compile(out, file);
};
const script = require('path').resolve(process.argv[1]);
process.argv = [process.argv[0], script, ...process.argv.slice(2)];
require(script);
`;
  return ['-e', hook, scriptPath];
}

/** The first line an emulator host prints on stdout: the connection info, prefixed for parsing. */
export const EMULATOR_HOST_READY_PREFIX = 'EMULATORS ';

/**
 * Runs both emulators in a child process of their own (`emulatorHost`), so that several processes
 * (a test and the app runtime it spawns, or `npm start` and its restartable app child) share them.
 * The host exits when this process goes away (its stdin is our pipe) or when `stop()` is called.
 */
export async function startEmulatorsProcess(
  options: EmulatorOptions & { startTimeoutMs?: number } = {},
): Promise<RunningEmulators & { pid: number }> {
  const host = path.join(__dirname, `emulatorHost${path.extname(__filename)}`);
  const args = [...nodeArgsForScript(host)];
  if (options.azurite?.location) args.push('--location', options.azurite.location);
  if (options.azurite?.extentMemoryLimitMb)
    args.push('--extentMemoryLimit', String(options.azurite.extentMemoryLimitMb));
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const timeoutMs = options.startTimeoutMs ?? 60000;
  const info = await new Promise<EmulatorConnectionInfo>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Emulator host did not start within ${timeoutMs} ms. ${stderr}`)),
      timeoutMs,
    );
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith(EMULATOR_HOST_READY_PREFIX)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(EMULATOR_HOST_READY_PREFIX.length)) as EmulatorConnectionInfo);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Emulator host exited during start-up (code ${code}, signal ${signal}). ${stderr}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.stdout?.resume();
  return { ...info, pid: child.pid!, stop: () => stopChild(child, 12000) };
}
