/**
 * A scriptable HTTP proxy on 127.0.0.1 in front of a base URL, for failure tests. Each request is
 * matched against the rules in order (a rule may apply only `times` times and only to requests its
 * predicate accepts); the first that applies decides the answer, otherwise the request passes
 * through. Absolute URLs of the target in response bodies (e.g. `next` links) are rewritten to the
 * proxy so that clients keep going through it. Every request is recorded, with whether it has been
 * answered, so that a test can wait until the source has answered everything it held.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resetSocket } from './tcpFaultProxy';

export type FaultAction =
  | { kind: 'pass' }
  /** Answer with this status (and Retry-After, and a JSON body: an OperationOutcome by default). */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  /** Hold the request until `until` resolves, then pass it through (a source the test lets answer). */
  | { kind: 'hold'; until: Promise<void> }
  /** Send the headers and part of the target's body, then destroy the connection. */
  | { kind: 'destroy' }
  /** Answer nothing: reset the connection at once (a source that went away). */
  | { kind: 'reset' }
  /** Answer 200 with a body that is not valid JSON (default: a truncated Bundle). */
  | { kind: 'malformed'; body?: string };

export interface ProxiedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The action that answered it. */
  action: FaultAction['kind'];
  /** The proxy has sent its whole answer. */
  answered: boolean;
  /** The exchange is over: answered, or the client hung up first. */
  ended: boolean;
}

export interface FaultRule {
  /** Which requests the rule applies to (all by default). */
  match?: (request: { method: string; url: string; body: string }) => boolean;
  /** How many times the rule applies (unlimited by default). */
  times?: number;
  action: FaultAction;
}

export interface FaultProxy {
  /** The target base URL with the proxy's origin, e.g. `http://127.0.0.1:40001/fhir`. */
  baseUrl: string;
  requests: ProxiedRequest[];
  /** Appends a rule; returns the proxy for chaining. */
  addRule(rule: FaultRule): FaultProxy;
  clearRules(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'host',
]);

/** A promise that a test resolves when it chooses, e.g. the `until` of a `hold` rule. */
export function openableGate(): { opened: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Waits for `until` unless the client hangs up first; true when it did (nothing is to be sent). */
async function clientLeftBefore(res: http.ServerResponse, until: Promise<void>): Promise<boolean> {
  // Before anything is sent, the response closes only when the client hangs up.
  let gone = false;
  let left = (): void => undefined;
  const hungUp = new Promise<void>((resolve) => (left = resolve));
  const onClose = (): void => {
    gone = true;
    left();
  };
  res.once('close', onClose);
  await Promise.race([until, hungUp]);
  res.off('close', onClose);
  return gone || res.destroyed;
}

export async function startFaultProxy(targetBaseUrl: string): Promise<FaultProxy> {
  const target = new URL(targetBaseUrl);
  const rules: { rule: FaultRule; remaining: number }[] = [];
  const requests: ProxiedRequest[] = [];
  let proxyOrigin = '';

  const pick = (request: { method: string; url: string; body: string }): FaultAction => {
    for (const entry of rules) {
      if (entry.remaining <= 0) continue;
      if (entry.rule.match && !entry.rule.match(request)) continue;
      entry.remaining -= 1;
      return entry.rule.action;
    }
    return { kind: 'pass' };
  };

  const forward = async (req: http.IncomingMessage, body: string) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name))
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await fetch(`${target.origin}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      redirect: 'manual',
    });
    const text = (await response.text()).split(target.origin).join(proxyOrigin);
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) outHeaders[name] = value;
    });
    return { status: response.status, headers: outHeaders, text };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const seen = { method: req.method ?? 'GET', url: req.url ?? '/', body };
      const action = pick(seen);
      const recorded: ProxiedRequest = {
        ...seen,
        headers: req.headers,
        action: action.kind,
        answered: false,
        ended: false,
      };
      requests.push(recorded);
      res.once('finish', () => (recorded.answered = true));
      res.once('close', () => (recorded.ended = true));
      answer(action, req, res, body).catch(() => res.destroy());
    });
  });

  const answer = async (
    action: FaultAction,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: string,
  ) => {
    switch (action.kind) {
      case 'status': {
        const payload = JSON.stringify(
          action.body ?? {
            resourceType: 'OperationOutcome',
            issue: [
              { severity: 'error', code: 'transient', diagnostics: `injected status ${action.status}` },
            ],
          },
        );
        const headers: Record<string, string> = { 'content-type': 'application/fhir+json' };
        if (action.retryAfter !== undefined) headers['retry-after'] = action.retryAfter;
        res.writeHead(action.status, headers);
        res.end(payload);
        return;
      }
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/fhir+json' });
        res.end(
          action.body ?? '{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType"',
        );
        return;
      case 'destroy': {
        const upstream = await forward(req, body);
        const bytes = Buffer.from(upstream.text, 'utf8');
        res.writeHead(upstream.status, { ...upstream.headers, 'content-length': String(bytes.length) });
        res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
        setTimeout(() => res.destroy(), 20);
        return;
      }
      case 'reset':
        resetSocket(req.socket);
        return;
      case 'hold':
        // A client that hangs up ends the hold: nothing waits on for a test that has moved on.
        if (await clientLeftBefore(res, action.until)) return;
        break;
      case 'pass':
        break;
    }
    const upstream = await forward(req, body);
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.text);
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxyOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const proxy: FaultProxy = {
    baseUrl: `${proxyOrigin}${target.pathname.replace(/\/+$/, '')}`,
    requests,
    addRule(rule) {
      rules.push({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
      return proxy;
    },
    clearRules() {
      rules.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return proxy;
}
