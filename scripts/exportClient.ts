/**
 * `npm run export -- [--base URL] [--type T,...] [--since INSTANT] [--out DIR] [--token TOKEN]`:
 * a Bulk Data client on the command line. Kicks off a system export, shows its progress (a bar that
 * redraws itself on a terminal, one line per change otherwise), downloads every file into --out and
 * prints the manifest. On failure it prints the server's OperationOutcome and exits with 1.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BulkDataClient, BulkExportFailedError } from '../dev/client/bulkDataClient';

const USAGE =
  'usage: npm run export -- [--base URL] [--type T,...] [--since INSTANT] [--out DIR] [--token TOKEN]';

/** The text of an OperationOutcome body, or the body itself when it is something else. */
function outcomeText(body: string): string {
  try {
    const outcome = JSON.parse(body) as {
      resourceType?: string;
      issue?: Array<{ severity?: string; diagnostics?: string; code?: string }>;
    };
    if (outcome.resourceType === 'OperationOutcome' && Array.isArray(outcome.issue)) {
      return outcome.issue
        .map((i) => `${i.severity ?? 'error'}: ${i.diagnostics ?? i.code ?? ''}`)
        .join('\n');
    }
  } catch {
    // not JSON: show it as it is
  }
  return body;
}

function progressBar(progress: string, columns: number): string {
  const percent = /^(\d{1,3})%/.exec(progress);
  if (!percent) return progress.slice(0, columns - 1);
  const width = 24;
  const filled = Math.round((Math.min(100, Number(percent[1])) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${progress}`.slice(0, columns - 1);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: process.env.EXPORT_BASE_URL ?? 'http://127.0.0.1:7071/api' },
      type: { type: 'string' },
      since: { type: 'string' },
      out: { type: 'string', default: 'export-output' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const client = new BulkDataClient(values.base.replace(/\/+$/, ''), {
    token: values.token ?? process.env.EXPORT_TOKEN,
  });
  const query = new URLSearchParams();
  if (values.type) query.set('_type', values.type);
  if (values.since) query.set('_since', values.since);

  const kickoff = await client.kickoff('$export', { query: query.toString() });
  if (kickoff.status !== 202 || !kickoff.pollUrl) {
    console.error(`Kick-off refused (HTTP ${kickoff.status}):\n${outcomeText(kickoff.body)}`);
    return 1;
  }
  const tty = process.stderr.isTTY === true;
  console.error(`Export accepted: ${kickoff.pollUrl}`);
  let last = '';
  const manifest = await client
    .waitForManifest(kickoff.pollUrl, {
      maxIntervalMs: 2000,
      onProgress: (progress) => {
        if (progress === last) return;
        last = progress;
        if (tty) process.stderr.write(`\r\x1b[2K${progressBar(progress, process.stderr.columns ?? 80)}`);
        else console.error(`progress: ${progress}`);
      },
    })
    .finally(() => {
      if (tty && last !== '') process.stderr.write('\n');
    });

  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  for (const entry of manifest.output) {
    const name = decodeURIComponent(new URL(entry.url).pathname.split('/').pop() ?? `${entry.type}.ndjson`);
    const file = path.join(out, path.basename(name));
    await client.downloadTo(entry.url, file, manifest.requiresAccessToken);
    console.error(`downloaded ${entry.type} (${entry.count ?? '?'} resources) → ${file}`);
  }
  console.log(JSON.stringify(manifest, null, 2));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof BulkExportFailedError) {
      console.error(`Export failed (HTTP ${error.status}):\n${outcomeText(error.body)}`);
    } else {
      console.error(error instanceof Error ? error.message : String(error));
    }
    process.exit(1);
  },
);
