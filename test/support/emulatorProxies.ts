/**
 * TCP fault proxies in front of every emulator endpoint (Azurite's blob, queue and table services,
 * the Cosmos emulator), and the connection settings that point an app at them: the app's and the
 * Durable Task extension's connections then pass through proxies a test can cut, while the test's
 * own reads go straight to the emulators.
 */
import { azuriteConnectionString } from '../../dev/runtime/emulators';
import { startTcpFaultProxy, type TcpFaultProxy } from './tcpFaultProxy';
import { testConnectionInfo } from './testEnv';

export interface EmulatorProxies {
  /** Storage connection string through the proxies (exports and task hub). */
  storageConnectionString: string;
  /** Cosmos endpoint through its proxy. */
  cosmosEndpoint: string;
  /** App settings that send every store connection of an app through the proxies. */
  appEnv: Record<string, string>;
  /** Resets every open connection to every emulator; returns how many there were. */
  resetAll(): number;
  /** Refuses every connection to every emulator until `accept()`. */
  refuse(): void;
  accept(): void;
  close(): Promise<void>;
}

/** The same URL with the proxy's port. */
function through(url: string, proxy: TcpFaultProxy): string {
  const target = new URL(url);
  target.port = String(proxy.port);
  return target.toString().replace(/\/$/, '');
}

function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

export async function startEmulatorProxies(): Promise<EmulatorProxies> {
  const info = testConnectionInfo();
  const endpoints = {
    blob: info.blobEndpoint,
    queue: info.queueEndpoint,
    table: info.tableEndpoint,
    cosmos: info.cosmosEndpoint,
  };
  const proxies = Object.fromEntries(
    await Promise.all(
      Object.entries(endpoints).map(async ([name, url]) => [name, await startTcpFaultProxy(targetOf(url))]),
    ),
  ) as Record<keyof typeof endpoints, TcpFaultProxy>;
  const storageConnectionString = azuriteConnectionString(
    through(info.blobEndpoint, proxies.blob),
    through(info.queueEndpoint, proxies.queue),
    through(info.tableEndpoint, proxies.table),
  );
  const cosmosEndpoint = `${through(info.cosmosEndpoint, proxies.cosmos)}/`;
  const all = Object.values(proxies);
  return {
    storageConnectionString,
    cosmosEndpoint,
    appEnv: {
      COSMOS_ENDPOINT: cosmosEndpoint,
      EXPORT_STORAGE_CONNECTION_STRING: storageConnectionString,
      AzureWebJobsStorage: storageConnectionString,
    },
    resetAll: () => all.reduce((sum, proxy) => sum + proxy.resetAll(), 0),
    refuse: () => all.forEach((proxy) => proxy.refuse()),
    accept: () => all.forEach((proxy) => proxy.accept()),
    close: async () => {
      await Promise.all(all.map((proxy) => proxy.close()));
    },
  };
}
