/**
 * The Functions host's side of HTTP streams (`app.setup({ enableHttpStream: true })`).
 *
 * `@azure/functions` then starts an HTTP proxy of its own and announces it as the worker capability
 * `HttpUri`. For each HTTP invocation the host sends the invocation over RPC with the request's
 * headers (`Headers`) and route parameters in the trigger metadata, and forwards the request itself to
 * that proxy with `x-ms-invocation-id`, `x-forwarded-host` and `x-forwarded-proto`; the function's
 * response comes back on the forwarded request, not in the RPC result. Bodies are piped both ways, so
 * neither side holds a whole request or response.
 */
import * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { RpcTypedData } from './functionsCore';
import type { InvocationOutcome, LogLine } from './invoker';

/** Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), and the proxy's own. */
const CONNECTION_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'host',
]);
const INVOCATION_ID_HEADER = 'x-ms-invocation-id';

export interface ForwardedCall {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  method: string;
  /** The URL the client asked for, with the origin it used. */
  url: URL;
  /** The request's headers, one string per name, as the trigger metadata carries them. */
  headers: Record<string, string>;
  params: Record<string, string>;
  /** Starts the RPC side of the invocation. */
  invoke(invocationId: string, triggerMetadata: Record<string, RpcTypedData>): Promise<InvocationOutcome>;
  /** Answers the client when the invocation produced no HTTP response (it failed, or returned nothing). */
  fallback(status: number): void;
  /** Lines about this invocation (the caller names it). */
  log: LogLine;
}

/** Forwards one HTTP invocation to the worker's proxy at `proxyUri` and streams its answer back. */
export async function forwardToWorker(
  proxyUri: string,
  agent: http.Agent,
  call: ForwardedCall,
): Promise<void> {
  const invocationId = randomUUID();
  const triggerMetadata: Record<string, RpcTypedData> = {
    Headers: { json: JSON.stringify(call.headers) },
    Query: { json: JSON.stringify(Object.fromEntries(call.url.searchParams)) },
  };
  for (const [name, value] of Object.entries(call.params)) triggerMetadata[name] = { string: value };

  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(call.req.headers)) {
    if (value !== undefined && !CONNECTION_HEADERS.has(name)) headers[name] = value;
  }
  headers[INVOCATION_ID_HEADER] = invocationId;
  headers['x-forwarded-host'] = call.url.host;
  headers['x-forwarded-proto'] = call.url.protocol.replace(/:$/, '');
  const forwarded = http.request(new URL(`${call.url.pathname}${call.url.search}`, proxyUri), {
    method: call.method,
    headers,
    agent,
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    forwarded.once('response', resolve);
    forwarded.once('error', reject);
  });
  answered.catch(() => undefined);
  pipeline(call.req, forwarded).catch(() => undefined);

  const invocation = call.invoke(invocationId, triggerMetadata);
  invocation.catch(() => undefined);
  const first = await Promise.race([
    answered.then((message) => ({ message })),
    invocation.then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ error }),
    ),
  ]).catch((error: unknown) => ({ error }));

  if ('error' in first) {
    forwarded.destroy();
    call.log(`failed: ${describe(first.error)}`);
    call.fallback(500);
    return;
  }
  if ('outcome' in first && first.outcome.returnedNothing) {
    // The handler returned nothing, so the proxy never answers this request.
    forwarded.destroy();
    call.fallback(204);
    return;
  }
  let message: http.IncomingMessage;
  try {
    message = 'message' in first ? first.message : await answered;
  } catch (error) {
    call.log(`the worker's HTTP proxy failed: ${describe(error)}`);
    call.fallback(502);
    return;
  }

  const outHeaders: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined && !CONNECTION_HEADERS.has(name) && name !== INVOCATION_ID_HEADER) {
      outHeaders[name] = value;
    }
  }
  delete outHeaders['transfer-encoding'];
  call.res.writeHead(message.statusCode ?? 500, outHeaders);
  // A function that fails while it sends its body leaves the proxy's response open: cut it off, so
  // the client sees a broken response rather than a short one that looks complete.
  invocation.catch((error: unknown) => {
    call.log(`failed while sending its body: ${describe(error)}`);
    message.destroy();
    call.res.destroy();
  });
  await pipeline(message, call.res).catch(() => forwarded.destroy());
  await invocation.catch(() => undefined);
}

/**
 * Closes the worker's HTTP proxy listening on `proxyUri`. `@azure/functions` keeps no handle to it
 * and never closes it (the host ends the whole worker process); an app embedded in a process that
 * lives on (the tests) needs it closed so that the process can exit.
 */
export async function closeWorkerProxy(proxyUri: string): Promise<void> {
  const port = Number(new URL(proxyUri).port);
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const servers = handles.filter(
    (h): h is http.Server =>
      h instanceof http.Server &&
      typeof h.address() === 'object' &&
      (h.address() as { port?: number } | null)?.port === port,
  );
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
