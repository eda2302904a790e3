/**
 * A stand-in for the Application Insights ingestion endpoint: accepts the exporter's POSTs to
 * `/v2/track` or `/v2.1/track` (a JSON array of envelopes, gzip-encoded or not) on loopback and keeps
 * every envelope for assertions.
 *
 * It speaks HTTPS: the SDK rewrites an `http://` IngestionEndpoint to `https://`. The certificate is
 * a throwaway self-signed one for 127.0.0.1 made with the `openssl` CLI; a child process trusts it
 * through `NODE_EXTRA_CA_CERTS` (see `caFile`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Envelope {
  name: string;
  time: string;
  iKey?: string;
  instrumentationKey?: string;
  tags?: Record<string, string>;
  data?: {
    baseType?: string;
    baseData?: {
      name?: string;
      properties?: Record<string, string>;
      measurements?: Record<string, number>;
      metrics?: Array<{ name: string; value: number; count?: number; min?: number; max?: number }>;
      [key: string]: unknown;
    };
  };
}

export class IngestionReceiver {
  readonly envelopes: Envelope[] = [];
  /** Raw request bodies (decompressed), to scan for data that must never be sent. */
  readonly bodies: string[] = [];
  readonly paths: string[] = [];
  private server?: Server;
  private readonly certDir = mkdtempSync(path.join(tmpdir(), 'ingestion-cert-'));
  /** PEM file of the receiver's certificate, for `NODE_EXTRA_CA_CERTS` of the app process. */
  readonly caFile = path.join(this.certDir, 'cert.pem');

  /** Starts listening on 127.0.0.1 (a free port); returns the endpoint URL for the connection string. */
  async start(): Promise<string> {
    const keyFile = path.join(this.certDir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        this.caFile,
      ],
      { stdio: 'ignore' },
    );
    const tls = { key: readFileSync(keyFile), cert: readFileSync(this.caFile) };
    this.server = createServer(tls, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        this.paths.push(request.url ?? '');
        if (
          request.method !== 'POST' ||
          !/\/v2(\.1)?\/track$/.test(new URL(request.url ?? '/', 'http://x').pathname)
        ) {
          response.writeHead(404).end();
          return;
        }
        let raw = Buffer.concat(chunks);
        if (/gzip/i.test(String(request.headers['content-encoding'] ?? ''))) raw = gunzipSync(raw);
        const text = raw.toString('utf8');
        this.bodies.push(text);
        const parsed = JSON.parse(text) as Envelope | Envelope[];
        const items = Array.isArray(parsed) ? parsed : [parsed];
        this.envelopes.push(...items);
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }),
        );
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `https://127.0.0.1:${port}/`;
  }

  /** Custom events (`EventData`) with the given name. */
  events(name?: string): Envelope[] {
    return this.envelopes.filter(
      (e) => e.data?.baseType === 'EventData' && (name === undefined || e.data.baseData?.name === name),
    );
  }

  /** Metric envelopes (`MetricData`) of the given metric name. */
  metrics(name: string): Envelope[] {
    return this.envelopes.filter(
      (e) => e.data?.baseType === 'MetricData' && e.data.baseData?.metrics?.some((m) => m.name === name),
    );
  }

  /** Waits until `check` holds for the received envelopes, or fails after `timeoutMs`. */
  async waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) {
        const seen = this.envelopes.map((e) => e.data?.baseData?.name ?? e.data?.baseType ?? e.name);
        throw new Error(`Timed out waiting for ${what}; received: ${JSON.stringify(seen)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    rmSync(this.certDir, { recursive: true, force: true });
  }
}
