/** The figures a bench run reports, and how they read: progress lines, core counts, the results table. */
import type { Ceiling } from './ceiling';
import type { LimitResult } from './limits';
import type { CpuSplit } from './processMeter';
import type { TraceSummary } from './traceSummary';

export const MB = 1024 * 1024;

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const short = (n: number): string =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n);
export const log = (line: string): void =>
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

export interface ExportFigures {
  resources: number;
  bytes: number;
  seconds: number;
  resourcesPerSecond: number;
  mbPerSecond: number;
  peakRssMb: number;
  pages: number;
  cpu?: CpuSplit;
  /** Wall time of the warm-up export (the newest resources) that ran first in the fresh app process. */
  coldStartSeconds?: number;
  /** Real engine only: where the export's time went (bench/traceSummary.ts). */
  engine?: TraceSummary;
  /** The same export de-identified (`--deid-config`), in the same app process. */
  deidentified?: DeidentifiedFigures;
}

export interface DeidentifiedFigures {
  seconds: number;
  resourcesPerSecond: number;
  /** De-identified rate over the plain export's rate. */
  ratioToPlain: number;
  cpu: CpuSplit;
}

export type LimitFigures = LimitResult & { resourcesPerSecond: number; mbPerSecond: number; cpu: CpuSplit };

export interface SizeResult {
  label: string;
  source: 'bench-fhir-endpoint' | 'cosmos-emulator';
  size: number;
  datasetBytes: number;
  largeResources: number;
  export: ExportFigures;
  readLimit?: LimitFigures;
  writeLimit?: LimitFigures;
  /** Export rate over the slower limit's rate (resources per second). */
  ratioToSlowerLimit?: number;
  /** The fastest an export can go here, from both limits' time and CPU (see bench/ceiling.ts). */
  ceiling?: Ceiling & { resourcesPerSecond: number };
  /** Export rate over the ceiling's rate. */
  ratioToCeiling?: number;
}

/** `app 0.9 + azurite 0.6 + bench 0.3 = 1.8 cores`: average cores per process over a phase. */
export function coresLine(cpu: CpuSplit, seconds: number): string {
  const parts: [string, number | undefined][] = [
    ['app', cpu.app],
    ['limit process', cpu.limitProcess],
    ['azurite', cpu.azurite],
    ['bench (server + Cosmos emulator)', cpu.benchProcess],
  ];
  const used = parts.filter((p): p is [string, number] => p[1] !== undefined);
  const total = used.reduce((sum, [, v]) => sum + v, 0);
  return `${used.map(([name, v]) => `${name} ${fmt(v / seconds, 2)}`).join(' + ')} = ${fmt(total / seconds, 2)} cores`;
}

/** The results as a Markdown table, one row per size. */
export function table(results: SizeResult[]): string {
  const rows = [
    [
      'size',
      'source',
      'wall s',
      'res/s',
      'MB/s',
      'peak RSS MiB',
      'read-limit res/s',
      'write-limit res/s',
      'export/slower',
      'ceiling res/s',
      'export/ceiling',
      'de-identified res/s',
      'de-identified/plain',
    ],
  ];
  for (const r of results) {
    rows.push([
      r.label,
      r.source,
      fmt(r.export.seconds, 1),
      fmt(r.export.resourcesPerSecond),
      fmt(r.export.mbPerSecond, 1),
      fmt(r.export.peakRssMb),
      r.readLimit ? fmt(r.readLimit.resourcesPerSecond) : '-',
      r.writeLimit ? fmt(r.writeLimit.resourcesPerSecond) : '-',
      r.ratioToSlowerLimit !== undefined ? `${fmt(r.ratioToSlowerLimit * 100)} %` : '-',
      r.ceiling ? fmt(r.ceiling.resourcesPerSecond) : '-',
      r.ratioToCeiling !== undefined ? `${fmt(r.ratioToCeiling * 100)} %` : '-',
      r.export.deidentified ? fmt(r.export.deidentified.resourcesPerSecond) : '-',
      r.export.deidentified ? `${fmt(r.export.deidentified.ratioToPlain * 100)} %` : '-',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`).join('\n');
}
