import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { BlobServiceClient } from '@azure/storage-blob';
import { disposeCosmosClients, getCosmosClient } from '../../../src/jobs/cosmosClient';
import {
  nodeArgsForScript,
  startAzurite,
  startCosmosEmulator,
  startEmulatorsProcess,
} from '../../../dev/runtime/emulators';

/** True while the process exists and is not a zombie. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

function portOpen(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

async function startOwner(mode: 'azurite' | 'host'): Promise<{
  owner: ReturnType<typeof spawn>;
  info: { pid: number; blobEndpoint: string; cosmosEndpoint?: string };
}> {
  const script = path.join(__dirname, '..', '..', 'support', 'fixtures', 'emulatorOwner.ts');
  const owner = spawn(process.execPath, [...nodeArgsForScript(script), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: owner.stdout! }).once('line', resolve);
    owner.once('exit', (code) => reject(new Error(`owner exited with ${code}`)));
  });
  return { owner, info: JSON.parse(line) };
}

describe('local emulators', () => {
  afterAll(() => disposeCosmosClients());

  test('given Azurite started here, when stopped, then its process is gone and the port closed', async () => {
    const azurite = await startAzurite();
    const service = BlobServiceClient.fromConnectionString(azurite.storageConnectionString);
    await service.getContainerClient('probe').createIfNotExists();
    expect(isAlive(azurite.pid)).toBe(true);
    await azurite.stop();
    expect(await waitFor(() => !isAlive(azurite.pid), 5000)).toBe(true);
    expect(await portOpen(azurite.blobEndpoint)).toBe(false);
  });

  test('given a process that started Azurite, when it is SIGKILLed, then Azurite exits too', async () => {
    const { owner, info } = await startOwner('azurite');
    expect(isAlive(info.pid)).toBe(true);
    expect(await portOpen(info.blobEndpoint)).toBe(true);
    owner.kill('SIGKILL');
    expect(await waitFor(() => !isAlive(info.pid), 8000)).toBe(true);
    expect(await waitFor(async () => !(await portOpen(info.blobEndpoint)), 5000)).toBe(true);
  });

  test('given a process that started an emulator host, when it is SIGKILLed, then the host and both emulators exit', async () => {
    const { owner, info } = await startOwner('host');
    expect(await portOpen(info.blobEndpoint)).toBe(true);
    expect(await portOpen(info.cosmosEndpoint!)).toBe(true);
    owner.kill('SIGKILL');
    expect(await waitFor(() => !isAlive(info.pid), 10000)).toBe(true);
    expect(await waitFor(async () => !(await portOpen(info.blobEndpoint)), 8000)).toBe(true);
    expect(await portOpen(info.cosmosEndpoint!)).toBe(false);
  });

  test('the emulator host serves Blob and Cosmos, and stop() ends it', async () => {
    const host = await startEmulatorsProcess();
    try {
      const service = BlobServiceClient.fromConnectionString(host.storageConnectionString);
      await service.getContainerClient('hosted').createIfNotExists();
      const cosmos = getCosmosClient({ endpoint: host.cosmosEndpoint, key: host.cosmosKey });
      const { database } = await cosmos.databases.createIfNotExists({ id: 'hosted' });
      expect(database.id).toBe('hosted');
    } finally {
      await host.stop();
    }
    expect(await waitFor(() => !isAlive(host.pid), 5000)).toBe(true);
    expect(await portOpen(host.blobEndpoint)).toBe(false);
  });

  test('the in-process Cosmos emulator closes its port on stop, even with keep-alive connections open', async () => {
    const cosmos = await startCosmosEmulator();
    const client = getCosmosClient({ endpoint: cosmos.cosmosEndpoint, key: cosmos.cosmosKey });
    await client.databases.createIfNotExists({ id: 'x' });
    await cosmos.stop();
    expect(await portOpen(cosmos.cosmosEndpoint)).toBe(false);
  });
});
