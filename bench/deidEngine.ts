/**
 * `npm run bench:deid`: the de-identification engine (src/deid/) alone, on one core, with the Safe
 * Harbor configuration of the tests (test/fixtures/deid/safe-harbor.json) over a synthetic dataset.
 *
 *   npm run bench:deid -- [--patients 200] [--reps 9] [--config FILE]
 *
 * Each repetition de-identifies fresh copies of every resource (the copies are made outside the
 * clock, since the engine changes a resource in place), type by type, the types' order rotating so
 * that load from elsewhere on the machine hits them alike. The first repetition warms up and is not
 * counted; the figures are medians over the rest. The machine may be shared, so the process's CPU
 * time is measured beside the wall time: on a busy machine it is the steadier of the two, while GC
 * threads running beside the main one can make it a little larger than the wall time.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { generateDataset } from '../dev/demo/syntheticFhir';
import { deidEngine } from '../src/deid';

interface Args {
  patients: number;
  reps: number;
  config: string;
}

const DEFAULT_CONFIG = path.join('test', 'fixtures', 'deid', 'safe-harbor.json');
const KEYS = {
  cryptoHashKey: 'bench-hash-key',
  dateShiftKey: 'bench-shift-key',
  encryptKey: '0123456789abcdef',
};

function parseArgs(argv: string[]): Args {
  const args: Args = { patients: 200, reps: 9, config: DEFAULT_CONFIG };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--patients') args.patients = Number(argv[++i]);
    else if (flag === '--reps') args.reps = Number(argv[++i]);
    else if (flag === '--config') args.config = argv[++i];
    else throw new Error(`unknown option ${flag}`);
  }
  if (!Number.isInteger(args.patients) || args.patients < 1)
    throw new Error('--patients takes a positive integer');
  if (!Number.isInteger(args.reps) || args.reps < 2) throw new Error('--reps takes an integer of 2 or more');
  return args;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

type Resource = Record<string, unknown>;

function byType(patients: number): Map<string, Resource[]> {
  const groups = new Map<string, Resource[]>();
  for (const resource of generateDataset({ patients, seed: 1 })) {
    const list = groups.get(resource.resourceType) ?? [];
    list.push(resource as unknown as Resource);
    groups.set(resource.resourceType, list);
  }
  return groups;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const config = deidEngine.compile(readFileSync(args.config, 'utf8'));
  const deidentifier = deidEngine.deidentifier(config, KEYS, 'bench-job');
  const groups = byType(args.patients);
  const types = [...groups.keys()];
  const bytes = new Map(types.map((type) => [type, JSON.stringify(groups.get(type)).length]));
  const wall = new Map<string, number[]>(types.map((type) => [type, []]));
  const cpu = new Map<string, number[]>(types.map((type) => [type, []]));
  const loadBefore = loadavg()[0];
  for (let rep = 0; rep < args.reps; rep++) {
    const order = types.map((_, i) => types[(i + rep) % types.length]);
    for (const type of order) {
      const copies = structuredClone(groups.get(type) as Resource[]);
      const cpuStart = process.cpuUsage();
      const start = process.hrtime.bigint();
      for (const resource of copies) deidentifier.deidentify(resource);
      const elapsed = Number(process.hrtime.bigint() - start);
      const { user, system } = process.cpuUsage(cpuStart);
      if (rep === 0) continue;
      wall.get(type)?.push(elapsed / copies.length);
      cpu.get(type)?.push(((user + system) * 1000) / copies.length);
    }
  }
  const loadAfter = loadavg()[0];

  console.log(
    `config ${path.basename(args.config)}, ${args.patients} patients, medians of ${args.reps - 1} runs`,
  );
  console.log(`load average (1 min) before ${loadBefore.toFixed(2)}, after ${loadAfter.toFixed(2)}`);
  console.log(['type', 'count', 'bytes/res', 'wall µs/res', 'res/s', 'cpu µs/res', 'res/cpu-s'].join('\t'));
  const totals = { count: 0, wall: 0, cpu: 0 };
  const row = (name: string, count: number, size: string, wallNanos: number, cpuNanos: number): string =>
    [
      name,
      count,
      size,
      (wallNanos / 1000).toFixed(1),
      Math.round(1e9 / wallNanos),
      (cpuNanos / 1000).toFixed(1),
      Math.round(1e9 / cpuNanos),
    ].join('\t');
  for (const type of types) {
    const count = groups.get(type)?.length ?? 0;
    const wallNanos = median(wall.get(type) ?? []);
    const cpuNanos = median(cpu.get(type) ?? []);
    totals.count += count;
    totals.wall += wallNanos * count;
    totals.cpu += cpuNanos * count;
    console.log(row(type, count, String(Math.round((bytes.get(type) ?? 0) / count)), wallNanos, cpuNanos));
  }
  // The dataset's own mix: what an export of all these resources would see.
  console.log(row('all', totals.count, '', totals.wall / totals.count, totals.cpu / totals.count));
}

main();
