/**
 * A small Bulk Data client: kick off, poll (honouring Retry-After), download, cancel. Used by
 * `npm run export` and by the end-to-end tests, so both talk to the service exactly as a standard
 * client does.
 */

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count?: number }>;
  /** Files of transaction Bundles listing resources deleted since `_since` (type `Bundle`). */
  deleted?: Array<{ type: string; url: string; count?: number }>;
  error: Array<{ type: string; url: string; count?: number }>;
}

export interface KickoffResponse {
  status: number;
  headers: Headers;
  /** The poll URL (Content-Location) of an accepted kick-off. */
  pollUrl?: string;
  body: string;
}

export interface PollOptions {
  /** Called with X-Progress on every 202. */
  onProgress?: (progress: string) => void;
  /** Gives up after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Upper bound for one wait, whatever Retry-After says. Default 10 s. */
  maxIntervalMs?: number;
  /** Lower bound for one wait. Default 200 ms. */
  minIntervalMs?: number;
}

export class BulkExportFailedError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`Export failed with HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = 'BulkExportFailedError';
  }
}

export class BulkDataClient {
  constructor(
    /** The FHIR base URL, e.g. http://127.0.0.1:7071/api */
    readonly baseUrl: string,
    private readonly options: { token?: string } = {},
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.options.token ? { Authorization: `Bearer ${this.options.token}` } : {}), ...extra };
  }

  /** Kick-off at `path` ('$export', 'Patient/$export', 'Group/{id}/$export') with query parameters. */
  async kickoff(
    path = '$export',
    init: { query?: string; method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<KickoffResponse> {
    const url = `${this.baseUrl}/${path}${init.query ? `?${init.query.replace(/^\?/, '')}` : ''}`;
    const headers = this.headers({
      Accept: 'application/fhir+json',
      Prefer: 'respond-async',
      ...(init.body !== undefined ? { 'Content-Type': 'application/fhir+json' } : {}),
      ...(init.headers ?? {}),
    });
    const response = await fetch(url, {
      method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
      headers,
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });
    return {
      status: response.status,
      headers: response.headers,
      pollUrl: response.headers.get('content-location') ?? undefined,
      body: await response.text(),
    };
  }

  /** Polls until the export completes; returns the manifest, or throws `BulkExportFailedError`. */
  async waitForManifest(pollUrl: string, options: PollOptions = {}): Promise<Manifest> {
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    const maxInterval = options.maxIntervalMs ?? 10_000;
    const minInterval = options.minIntervalMs ?? 200;
    for (;;) {
      let response: Response;
      try {
        response = await fetch(pollUrl, { headers: this.headers() });
      } catch (error) {
        // The server may be restarting (a recycled worker): keep polling until the deadline.
        if (Date.now() > deadline) throw error;
        await sleep(Math.max(minInterval, 1000));
        continue;
      }
      const body = await response.text();
      if (response.status === 200) return JSON.parse(body) as Manifest;
      // 429, and a 503 with Retry-After (a host that is starting), ask to poll again later.
      const pollAgain =
        response.status === 429 || (response.status === 503 && response.headers.has('retry-after'));
      if (response.status !== 202 && !pollAgain) throw new BulkExportFailedError(response.status, body);
      if (response.status === 202) options.onProgress?.(response.headers.get('x-progress') ?? '');
      if (Date.now() > deadline) throw new Error(`Export did not finish in time (${pollUrl})`);
      const retryAfter = Number(response.headers.get('retry-after') ?? '1') * 1000;
      await sleep(
        Math.max(minInterval, Math.min(maxInterval, Number.isFinite(retryAfter) ? retryAfter : 1000)),
      );
    }
  }

  /** Downloads one output file as text (gunzipped by fetch when the server compressed it). */
  async download(url: string, accessToken = true): Promise<string> {
    const response = await fetch(url, { headers: accessToken ? this.headers() : {} });
    if (response.status !== 200) throw new BulkExportFailedError(response.status, await response.text());
    return response.text();
  }

  /** Downloads one output file into `file` as it arrives, never holding the whole file; returns its bytes. */
  async downloadTo(url: string, file: string, accessToken = true): Promise<number> {
    const response = await fetch(url, { headers: accessToken ? this.headers() : {} });
    if (response.status !== 200 || !response.body) {
      throw new BulkExportFailedError(response.status, await response.text());
    }
    const out = createWriteStream(file);
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), out);
    return out.bytesWritten;
  }

  async cancel(pollUrl: string): Promise<number> {
    const response = await fetch(pollUrl, { method: 'DELETE', headers: this.headers() });
    await response.arrayBuffer();
    return response.status;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
