/** What one bench run measures: its command line and the settings every export and limit share. */
import * as path from 'node:path';
import { exportConfigFromEnv } from '../src/config';
import type { BenchEngine } from './appProcess';

/** The app's own default, so that a plain `npm run bench` measures what a deployment runs. */
export const DEFAULT_PAGE_SIZE = exportConfigFromEnv({}).resourcesPerPage;
/** Types the app exports at once (EXPORT_TYPE_PARALLELISM), and the lanes of both limits. */
export const TYPE_PARALLELISM = 4;

export interface Args {
  sizes: number[];
  cosmosSource: number;
  /** Node options of the app process (`--cpu-prof DIR`, `--app-node-arg`). */
  appNodeArgs: string[];
  out: string;
  pageSize: number;
  /** Extra app settings (`--app-env NAME=value`, repeatable), e.g. to compare a setting on and off. */
  appEnv: Record<string, string>;
  /** The durable runtime of the export: the embedded one, or the real Durable Task extension. */
  engine: BenchEngine;
  /** The anonymization configuration of the de-identified export after each plain one; none: skipped. */
  deidConfig?: string;
}

/** The Safe Harbor configuration the de-identified export uses unless told otherwise. */
export const DEFAULT_DEID_CONFIG = path.resolve(
  __dirname,
  '..',
  '..',
  'test',
  'fixtures',
  'deid',
  'safe-harbor.json',
);

/** `--flag value` or `--flag=value`; unknown flags are an error. */
export function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: [10_000, 100_000, 1_000_000],
    cosmosSource: 5_000,
    out: 'bench-results.json',
    pageSize: DEFAULT_PAGE_SIZE,
    appEnv: {},
    appNodeArgs: [],
    engine: 'embedded',
    deidConfig: DEFAULT_DEID_CONFIG,
  };
  for (let i = 0; i < argv.length; i++) {
    // `--flag=value` or `--flag value`; the value may hold `=` itself (`--app-env=NAME=value`).
    const eqAt = argv[i].indexOf('=');
    const flag = eqAt < 0 ? argv[i] : argv[i].slice(0, eqAt);
    const inline = eqAt < 0 ? undefined : argv[i].slice(eqAt + 1);
    const value = (): string => inline ?? argv[++i];
    if (flag === '--sizes')
      args.sizes = value()
        .split(',')
        .map((s) => Number(s.trim()));
    else if (flag === '--cosmos-source') args.cosmosSource = Number(value());
    else if (flag === '--cpu-prof')
      args.appNodeArgs.push('--cpu-prof', '--cpu-prof-dir', path.resolve(value()));
    else if (flag === '--app-node-arg') args.appNodeArgs.push(value());
    else if (flag === '--out') args.out = value();
    else if (flag === '--deid-config') {
      const config = value();
      args.deidConfig = config === 'none' ? undefined : path.resolve(config);
    } else if (flag === '--page-size') args.pageSize = Number(value());
    else if (flag === '--engine') {
      const engine = value();
      if (engine !== 'embedded' && engine !== 'real') throw new Error('--engine takes embedded or real');
      args.engine = engine;
    } else if (flag === '--app-env') {
      const setting = value();
      const eq = setting.indexOf('=');
      if (eq < 1) throw new Error('--app-env takes NAME=value');
      args.appEnv[setting.slice(0, eq)] = setting.slice(eq + 1);
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  if (args.sizes.some((s) => !Number.isInteger(s) || s < 1))
    throw new Error('--sizes takes positive integers');
  return args;
}
