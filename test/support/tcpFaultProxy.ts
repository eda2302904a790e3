/**
 * A TCP proxy on 127.0.0.1 in front of a loopback service (Azurite's endpoints, the Cosmos
 * emulator), for failure tests below HTTP: it forwards bytes untouched (TLS included) and, on
 * request, resets every open connection or refuses new ones until told to accept again. An app
 * pointed at the proxy sees its store's connections drop the way a network fault drops them.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpFaultProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  /** Connections open now (client side). */
  openConnections(): number;
  /** Resets every open connection, both sides, with a TCP RST; returns how many there were. */
  resetAll(): number;
  /** Resets every new connection at once (and every open one) until `accept()`. */
  refuse(): void;
  accept(): void;
  close(): Promise<void>;
}

/**
 * Resets `socket` with a TCP RST, or only destroys it when its end is already under way: on a
 * socket with a pending shutdown, Node's resetAndDestroy() fails with EINVAL and leaks the handle,
 * and the process then spins forever when it exits.
 */
export function resetSocket(socket: net.Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}

export async function startTcpFaultProxy(target: { host: string; port: number }): Promise<TcpFaultProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let refusing = false;

  const reset = (pair: { client: net.Socket; upstream: net.Socket }): void => {
    pairs.delete(pair);
    resetSocket(pair.client);
    resetSocket(pair.upstream);
  };

  const server = net.createServer((client) => {
    if (refusing) {
      client.on('error', () => undefined);
      resetSocket(client);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    // An error on either side resets the other, as a network fault would; a close closes it.
    const fail = (): void => {
      if (pairs.has(pair)) reset(pair);
    };
    const close = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', fail);
    upstream.on('error', fail);
    client.on('close', close);
    upstream.on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resetAll = (): number => {
    const count = pairs.size;
    for (const pair of [...pairs]) reset(pair);
    return count;
  };
  return {
    port: (server.address() as AddressInfo).port,
    openConnections: () => pairs.size,
    resetAll,
    refuse() {
      refusing = true;
      resetAll();
    },
    accept() {
      refusing = false;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        resetAll();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
