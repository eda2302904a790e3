import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionRegistration, RpcHttpCookie, RpcHttpData } from './functionsCore';
import { FunctionInvoker, LogLine, triggerOf, typedDataToBuffer } from './invoker';
import type { ApiRequest, ApiResponse } from './managementApi';
import { CompiledRoute, compileRoute, matchRoute } from './routes';
import { forwardToWorker } from './workerHttpProxy';

/**
 * Serves HTTP triggers under `/{routePrefix}`, and other APIs (the durable management API) under
 * their own path prefixes, on loopback with node:http.
 *
 * When the app enables HTTP streams (`workerHttpUri`), trigger requests are forwarded to the worker's
 * proxy and bodies flow through both ways, as the Functions host does (see `workerHttpProxy.ts`).
 * Otherwise, and for the APIs, bodies are buffered: requests reach the function as RpcHttpData (the
 * worker's non-stream path) and responses are sent once the handler has finished.
 */
export interface HttpHostOptions {
  host: string;
  port: number;
  routePrefix: string;
  invoker: FunctionInvoker;
  /** APIs served beside the triggers, each under its path prefix (e.g. `/runtime/webhooks/durabletask`). */
  apis: PrefixedApi[];
  log: LogLine;
  /**
   * False while the app's HTTP triggers cannot run yet (the real-engine worker before the host has
   * sent the durable client): they then answer 503 with `Retry-After`, as the Functions host does
   * while it starts, instead of failing inside the trigger.
   */
  triggersReady?: () => boolean;
  /** The worker's HTTP proxy (capability `HttpUri`) when the app enables HTTP streams. */
  workerHttpUri?: string;
}

export interface PrefixedApi {
  prefix: string;
  /** A Buffer body is sent as it is; any other body as JSON. */
  handle(request: ApiRequest): ApiResponse | Promise<ApiResponse>;
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const text = (status: number, message: string): HttpResult => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: Buffer.from(message),
});

const MALFORMED_HOST: HttpResult = {
  status: 400,
  headers: { 'content-type': 'application/fhir+json' },
  body: Buffer.from(
    JSON.stringify({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'invalid', diagnostics: 'The Host header is malformed.' }],
    }),
  ),
};

const HOST_STARTING: HttpResult = {
  status: 503,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' },
  body: Buffer.from('The function host is starting.'),
};

export class HttpHost {
  private readonly server: http.Server;
  private readonly routes = new Map<string, CompiledRoute>();
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * One loopback connection per call: the worker's proxy server closes idle connections after its
   * keep-alive timeout, a call sent on such a socket in that moment fails with ECONNRESET, and a
   * request body already streamed once cannot be sent again.
   */
  private readonly workerAgent = new http.Agent({ keepAlive: false });
  private url = '';

  constructor(private readonly options: HttpHostOptions) {
    this.server = http.createServer((req, res) => {
      const handled = this.handle(req, res).catch((error: unknown) => {
        this.options.log(`[local] HTTP host error: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) {
          res.writeHead(500).end();
        }
      });
      this.inFlight.add(handled);
      void handled.finally(() => this.inFlight.delete(handled));
    });
  }

  get baseUrl(): string {
    return this.url;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.url = `http://${host}:${address.port}`;
    return this.url;
  }

  /** Stops accepting connections, lets running requests finish for up to `timeoutMs`, then closes. */
  async close(timeoutMs = 2000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => setTimeout(r, timeoutMs).unref()),
    ]);
    this.server.closeAllConnections();
    this.workerAgent.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const origin = `http://${req.headers.host ?? new URL(this.url).host}`;
    const url = URL.canParse(req.url ?? '/', origin) ? new URL(req.url ?? '/', origin) : undefined;
    if (!url) {
      // The Functions host's web server refuses a Host no URL can be built on, before any function runs.
      res.writeHead(MALFORMED_HOST.status, MALFORMED_HOST.headers).end(MALFORMED_HOST.body);
      return;
    }
    const segments = url.pathname
      .split('/')
      .filter((s) => s.length > 0)
      .map(decodeSegment);
    const method = (req.method ?? 'GET').toUpperCase();

    let result: HttpResult;
    const api = this.options.apis.find((candidate) =>
      candidate.prefix
        .split('/')
        .filter(Boolean)
        .every((s, i) => segments[i] === s),
    );
    if (api) {
      const depth = api.prefix.split('/').filter(Boolean).length;
      const answer = await api.handle({
        method,
        segments: segments.slice(depth),
        query: url.searchParams,
        body: await readBody(req),
        origin,
        headers: req.headers,
      });
      const raw = Buffer.isBuffer(answer.body);
      result = {
        status: answer.status,
        headers: {
          ...(answer.body === undefined || raw ? {} : { 'content-type': 'application/json; charset=utf-8' }),
          ...answer.headers,
        },
        body:
          answer.body === undefined
            ? Buffer.alloc(0)
            : raw
              ? (answer.body as Buffer)
              : Buffer.from(JSON.stringify(answer.body)),
      };
    } else if (segments[0]?.toLowerCase() === this.options.routePrefix.toLowerCase()) {
      if (this.options.triggersReady?.() === false) {
        result = HOST_STARTING;
      } else if (this.options.workerHttpUri) {
        const target = this.findFunction(method, segments.slice(1));
        if (target) {
          await this.forwardHttpFunction(req, res, method, url, target);
          return;
        }
        result = text(404, 'Not Found');
      } else {
        result = await this.invokeHttpFunction(req, method, url, segments.slice(1), await readBody(req));
      }
    } else {
      result = text(404, 'Not Found');
    }
    res.writeHead(result.status, result.headers);
    res.end(method === 'HEAD' ? undefined : result.body);
  }

  private findFunction(
    method: string,
    segments: string[],
  ): { registration: FunctionRegistration; params: Record<string, string> } | undefined {
    const candidates: Array<{
      registration: FunctionRegistration;
      route: CompiledRoute;
      params: Record<string, string>;
    }> = [];
    for (const registration of this.options.invoker.byTrigger('httpTrigger')) {
      const binding = triggerOf(registration)?.binding;
      const methods = Array.isArray(binding?.methods)
        ? (binding.methods as string[]).map((m) => m.toUpperCase())
        : undefined;
      if (methods && methods.length > 0 && !methods.includes(method)) {
        continue;
      }
      const template = typeof binding?.route === 'string' ? binding.route : registration.metadata.name;
      let route = this.routes.get(template);
      if (!route) {
        route = compileRoute(template);
        this.routes.set(template, route);
      }
      const params = matchRoute(route, segments);
      if (params) {
        candidates.push({ registration, route, params });
      }
    }
    candidates.sort((a, b) => b.route.specificity - a.route.specificity);
    return candidates[0];
  }

  private async forwardHttpFunction(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    url: URL,
    target: { registration: FunctionRegistration; params: Record<string, string> },
  ): Promise<void> {
    const headers = flattenHeaders(req.headers);
    await forwardToWorker(this.options.workerHttpUri as string, this.workerAgent, {
      req,
      res,
      method,
      url,
      headers,
      params: target.params,
      invoke: (invocationId, triggerMetadata) =>
        this.options.invoker.invoke(
          target.registration,
          { http: { method, url: url.href, headers, params: target.params } },
          { invocationId, triggerMetadata },
        ),
      fallback: (status) => {
        if (status === 204) res.writeHead(204).end();
        else res.writeHead(status, text(status, '').headers).end(http.STATUS_CODES[status]);
      },
      log: (line) => this.options.log(`[local] ${target.registration.metadata.name} ${line}`),
    });
  }

  private async invokeHttpFunction(
    req: http.IncomingMessage,
    method: string,
    url: URL,
    segments: string[],
    body: Buffer,
  ): Promise<HttpResult> {
    const target = this.findFunction(method, segments);
    if (!target) {
      return text(404, 'Not Found');
    }
    const headers = flattenHeaders(req.headers);
    // No `query` map: @azure/functions then reads the URL's search params, keeping repeated parameters.
    const request: RpcHttpData = { method, url: url.href, headers, params: target.params };
    if (body.length > 0) {
      request.body = { bytes: body };
    }
    try {
      const response = await this.options.invoker.invoke(target.registration, { http: request });
      const httpOut =
        response.returnValue?.http ?? response.outputData?.find((o) => o.data?.http)?.data?.http;
      if (!httpOut) {
        return { status: 204, headers: {}, body: Buffer.alloc(0) };
      }
      const outHeaders: Record<string, string | string[]> = { ...(httpOut.headers ?? {}) };
      const cookies = (httpOut.cookies ?? []).map(serializeCookie);
      if (cookies.length > 0) {
        outHeaders['set-cookie'] = cookies;
      }
      return {
        status: Number(httpOut.statusCode ?? 200) || 200,
        headers: outHeaders,
        body: typedDataToBuffer(httpOut.body),
      };
    } catch (error) {
      this.options.log(
        `[local] ${target.registration.metadata.name} failed: ${(error as Error).stack ?? String(error)}`,
      );
      return text(500, 'Internal Server Error');
    }
  }
}

/**
 * Decodes one path segment. A segment with a malformed escape (`%zz`, a lone `%`, bytes that are not
 * UTF-8) is kept as it came, as ASP.NET Core routing in the Functions host does, instead of failing.
 */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** One string per header name, as the host hands headers to the worker. */
function flattenHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) {
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  return headers;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${encodeURIComponent(cookie.value ?? '')}`];
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  return parts.join('; ');
}
