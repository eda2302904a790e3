/** The TCP fault proxy of the chaos test: it forwards, resets, refuses, and leaks no socket doing so. */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { eventually } from '../../support/e2eHelpers';
import { resetSocket, startTcpFaultProxy, type TcpFaultProxy } from '../../support/tcpFaultProxy';

/** An echo server on loopback. */
async function startEcho(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `text` and waits for its echo. */
function echo(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (data: Buffer) => resolve(data.toString()));
    socket.write(text);
  });
}

/** How the connection ends: reset, closed cleanly, or still open after the proxy has acted. */
function endOf(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    socket.once('close', () => resolve('closed'));
  });
}

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

describe('TCP fault proxy', () => {
  let target: net.Server;
  let proxy: TcpFaultProxy;
  beforeAll(async () => {
    target = await startEcho();
    proxy = await startTcpFaultProxy({ host: '127.0.0.1', port: (target.address() as AddressInfo).port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => target.close(resolve));
  });

  it('given a connection through it, when bytes go both ways and it resets every connection, then they arrive and the client sees a reset', async () => {
    const socket = await connect(proxy.port);
    expect(await echo(socket, 'ping')).toBe('ping');
    const ended = endOf(socket);
    expect(proxy.resetAll()).toBe(1);
    expect(await ended).toBe('ECONNRESET');
  });

  it('given it refuses, when a client connects, then the connection is reset; after accept() connections pass again', async () => {
    proxy.refuse();
    const refused = await connect(proxy.port).then(endOf, (error: NodeJS.ErrnoException) => error.code);
    expect(refused).toBe('ECONNRESET');
    proxy.accept();
    const socket = await connect(proxy.port);
    expect(await echo(socket, 'again')).toBe('again');
    socket.destroy();
  });

  it('given a socket whose end is under way, when it is reset, then its handle closes', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.end('bye');
      // The shutdown is pending now: a plain resetAndDestroy() fails (EINVAL) and leaks the handle,
      // which keeps the process spinning when it exits.
      resetSocket(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = await connect((server.address() as AddressInfo).port);
    client.on('error', () => undefined);
    client.resume();
    await endOf(client);
    await eventually('every socket closed', async () => (tcpSockets() === 0 ? true : undefined), 5000, 20);
    await new Promise((resolve) => server.close(resolve));
  });
});
