/**
 * `npm run package`: the deployment package of the function app. The app of `functions/` and `src/`
 * is bundled with esbuild into CommonJS with every dependency inside, so the package is `host.json`,
 * a `package.json` whose `main` is the bundle, the bundle and the telemetry SDK's bundle beside it:
 * no node_modules, and
 * nothing of dev/, engine/, bench/, scripts/ or test/ (the build fails if the app imports them).
 *
 * Writes `package/app/` (the folder `azd deploy` and `func azure functionapp publish` take) and
 * `package/durable-fhir-export.zip` (what `az functionapp deployment source config-zip` takes).
 *
 * Needs the app compiled (`npm run build`; `npm run package` does both).
 *
 * Usage: node dist/scripts/package/buildPackage.js [--out <folder>] [--sourcemap]
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { createZip } from './zip';

/** The Functions worker provides this module to the app; it is never installed. */
export const HOST_PROVIDED_MODULES = ['@azure/functions-core'];
/** Folders of the repository whose code never belongs in the package. */
export const NON_PRODUCT_FOLDERS = ['dev', 'engine', 'bench', 'scripts', 'test'];
export const ZIP_NAME = 'durable-fhir-export.zip';
export const BUNDLE_PATH = 'dist/index.js';

const TELEMETRY_SDK_FILE = 'telemetry-sdk.js';

const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  // The oldest Node the app supports; Flex Consumption runs it on Node 22.
  target: 'node20',
  format: 'cjs',
  external: HOST_PROVIDED_MODULES,
  // Minified, the bundle compiles faster at cold start; function and class names stay readable in
  // stack traces and logs without a source map.
  minify: true,
  keepNames: true,
  // Paths in the bundle and its source map stay relative to the checkout (node_modules may be a link).
  preserveSymlinks: true,
  // The few ES-only modules inside (e.g. the browser opener of interactive logins, never used by
  // the app) get a working import.meta.url.
  define: { 'import.meta.url': '__bundleUrl' },
  // The directive first, so that the bundle stays in strict mode with the banner before it.
  banner: { js: "'use strict';var __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  logLevel: 'warning',
} satisfies BuildOptions;

/** The app's import of src/telemetrySdk becomes a require of the SDK bundle beside it. */
const telemetrySdkApart: Plugin = {
  name: 'telemetry-sdk-apart',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /\/telemetrySdk(\.js)?$/ }, () => ({
      path: `./${TELEMETRY_SDK_FILE}`,
      external: true,
    }));
  },
};

export interface PackageOptions {
  /** The repository root (with dist/functions/index.js built, host.json, package.json). */
  root: string;
  /** Output folder; `app/` and the zip are written into it. */
  outDir: string;
  /** Writes `index.js.map` beside the bundle (off by default: it doubles the package). */
  sourcemap?: boolean;
}

export interface PackageFile {
  name: string;
  bytes: number;
}

export interface PackageResult {
  appDir: string;
  zipFile: string;
  zipBytes: number;
  files: PackageFile[];
}

export async function buildPackage(options: PackageOptions): Promise<PackageResult> {
  const root = path.resolve(options.root);
  const outDir = path.resolve(options.outDir);
  const appDir = path.join(outDir, 'app');
  rmSync(appDir, { recursive: true, force: true });
  mkdirSync(appDir, { recursive: true });

  // Two bundles: the app, and the telemetry SDK (half the code) that the app loads only when
  // telemetry is on and after the first request, so a cold start does not compile it.
  const results = await Promise.all([
    build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: root,
      // tsc's CommonJS output, not the TypeScript: its require() calls pick each package's CommonJS
      // build, the code Node loads for the unbundled app (the ES builds read import.meta).
      entryPoints: [path.join(root, 'dist', 'functions', 'index.js')],
      outfile: path.join(appDir, BUNDLE_PATH),
      plugins: [telemetrySdkApart],
      sourcemap: options.sourcemap ? 'linked' : false,
    }),
    build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: root,
      entryPoints: [path.join(root, 'dist', 'src', 'telemetrySdk.js')],
      outfile: path.join(appDir, 'dist', TELEMETRY_SDK_FILE),
      sourcemap: options.sourcemap ? 'linked' : false,
    }),
  ]);
  const strays = results
    .flatMap((result) => Object.keys(result.metafile.inputs))
    .filter((input) => NON_PRODUCT_FOLDERS.some((folder) => input.startsWith(`dist/${folder}/`)));
  if (strays.length > 0) {
    throw new Error(`The app imports code that is not deployed: ${strays.join(', ')}`);
  }

  writeFileSync(path.join(appDir, 'package.json'), `${JSON.stringify(packageManifest(root), null, 2)}\n`);
  writeFileSync(path.join(appDir, 'host.json'), readFileSync(path.join(root, 'host.json')));

  const names = listFiles(appDir);
  const zip = createZip(names.map((name) => ({ name, data: readFileSync(path.join(appDir, name)) })));
  const zipFile = path.join(outDir, ZIP_NAME);
  writeFileSync(zipFile, zip);
  return {
    appDir,
    zipFile,
    zipBytes: zip.length,
    files: names.map((name) => ({ name, bytes: statSync(path.join(appDir, name)).size })),
  };
}

/** The package's package.json: what the Functions host reads (`main`), no dependencies to install. */
function packageManifest(root: string): Record<string, unknown> {
  const source = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  return {
    name: source.name,
    version: source.version,
    description: source.description,
    license: source.license,
    private: true,
    main: BUNDLE_PATH,
    engines: source.engines,
  };
}

/** Files under `dir`, relative with forward slashes, sorted (so archives are reproducible). */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? listFiles(dir, name) : [name];
    })
    .sort();
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

if (require.main === module) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  // Compiled to dist/scripts/package/: the repository root is three folders up.
  const root = path.resolve(__dirname, '..', '..', '..');
  buildPackage({
    root,
    outDir: outAt >= 0 ? path.resolve(args[outAt + 1]) : path.join(root, 'package'),
    sourcemap: args.includes('--sourcemap'),
  }).then(
    (result) => {
      for (const file of result.files) console.log(`  ${file.name}  ${megabytes(file.bytes)}`);
      console.log(
        `package: ${path.relative(root, result.appDir)}/ (${result.files.length} files), ` +
          `${path.relative(root, result.zipFile)} ${megabytes(result.zipBytes)}`,
      );
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
