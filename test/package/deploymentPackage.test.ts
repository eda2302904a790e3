/**
 * The deployment package of `npm run package`: small, free of what only development needs, and a
 * working app. The app is taken out of the zip (not the folder it was made from) and served by the
 * embedded runtime and by the real-engine host, with the package's own host.json and package.json.
 *
 * Needs the build of `npm test` (dist/, and dist/engine/host for the real engine).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BUNDLE_PATH, buildPackage, type PackageResult } from '../../scripts/package/buildPackage';
import { readZip, type ZipEntry } from '../../scripts/package/zip';
import { AppProcess } from '../support/appProcess';

const ROOT = path.resolve(__dirname, '..', '..');
const MAX_ZIP_BYTES = 60 * 1024 * 1024;
const NON_PRODUCT = ['dev', 'bench', 'scripts', 'engine', 'test'];

/** Names of the functions and classes that the non-product folders declare at their top level. */
function declaredNames(folder: string): string[] {
  const names: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      // The stand-in for @azure/functions-core has the host module's function names by design.
      else if (entry.name.endsWith('.ts') && entry.name !== 'functionsCore.ts') {
        const text = readFileSync(full, 'utf8');
        for (const match of text.matchAll(/^export (?:async )?(?:function|class) (\w+)/gm))
          names.push(match[1]);
      }
    }
  };
  visit(path.join(ROOT, folder));
  // Short names (main, sleep, …) may also be a library's; long ones are this project's own.
  return names.filter((name) => name.length >= 12);
}

describe('the deployment package', () => {
  let result: PackageResult;
  let outDir: string;
  let entries: ZipEntry[];
  let appRoot: string;

  beforeAll(async () => {
    outDir = mkdtempSync(path.join(tmpdir(), 'fhir-export-package-'));
    result = await buildPackage({ root: ROOT, outDir });
    entries = readZip(readFileSync(result.zipFile));
    appRoot = path.join(outDir, 'unzipped');
    for (const entry of entries) {
      mkdirSync(path.dirname(path.join(appRoot, entry.name)), { recursive: true });
      writeFileSync(path.join(appRoot, entry.name), entry.data);
    }
  }, 300_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('is a zip under 60 MB with host.json, package.json, the bundle it names as main and the telemetry SDK', () => {
    expect(result.zipBytes).toBeLessThan(MAX_ZIP_BYTES);
    expect(entries.map((entry) => entry.name).sort()).toEqual([
      'dist/index.js',
      'dist/telemetry-sdk.js',
      'host.json',
      'package.json',
    ]);
    const manifest = JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest.main).toBe(BUNDLE_PATH);
    expect(manifest).not.toHaveProperty('devDependencies');
    expect(manifest).not.toHaveProperty('dependencies');
    expect(readFileSync(path.join(appRoot, 'host.json'), 'utf8')).toBe(
      readFileSync(path.join(ROOT, 'host.json'), 'utf8'),
    );
  });

  it('holds no test, bench, demo data, dev runtime or scripts code', () => {
    for (const { name } of entries) {
      expect(name).not.toMatch(/(^|\/)(node_modules|test|bench|dev|scripts|engine|demo)\//);
      expect(name).not.toMatch(/\.test\.|seed|synthetic|\.ts$/i);
    }
    const bundle = ['dist/index.js', 'dist/telemetry-sdk.js']
      .map((name) => readFileSync(path.join(appRoot, name), 'utf8'))
      .join('\n');
    // keepNames leaves each function's and class's name in the bundle as a string literal: the
    // product's names are there, those of the other folders must not be.
    expect(bundle).toContain('"capabilityStatement"');
    // A name the product declares too (a test helper's twin) says nothing.
    const productNames = new Set([...declaredNames('src'), ...declaredNames('functions')]);
    for (const folder of NON_PRODUCT) {
      const names = declaredNames(folder).filter((name) => !productNames.has(name));
      expect(names.length).toBeGreaterThan(0);
      expect(
        names.filter((name) => bundle.includes(`"${name}"`)).map((name) => `${folder}: ${name}`),
      ).toEqual([]);
    }
    for (const marker of ['startLocalRuntime', 'seedDemo', 'syntheticPatient', 'READY ']) {
      expect(bundle).not.toContain(marker);
    }
  });

  it.each(['embedded', 'engine'] as const)(
    'loads and answers GET /metadata on the %s runtime',
    async (runtime) => {
      const app = new AppProcess({
        appRoot,
        runtime,
        env: {
          // The Application Insights SDK is inside the bundle too: it must load (nothing listens here).
          APPLICATIONINSIGHTS_CONNECTION_STRING:
            'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
        },
      });
      // The host loads the app root it is given: one whose main is missing does not start.
      const missingRoot = path.join(outDir, `missing-${runtime}`);
      mkdirSync(missingRoot);
      writeFileSync(path.join(missingRoot, 'package.json'), JSON.stringify({ main: 'dist/absent.js' }));
      writeFileSync(path.join(missingRoot, 'host.json'), readFileSync(path.join(appRoot, 'host.json')));
      const missing = new AppProcess({ appRoot: missingRoot, runtime });
      await expect(missing.start()).rejects.toThrow(/absent\.js/);
      await missing.dispose();

      try {
        const apiBaseUrl = await app.start();
        const response = await fetch(`${apiBaseUrl}/metadata`);
        expect(response.status).toBe(200);
        const statement = (await response.json()) as { resourceType: string; software: { version: string } };
        expect(statement.resourceType).toBe('CapabilityStatement');
        const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
          version: string;
        };
        expect(statement.software.version).toBe(version);

        // A status poll builds the services (Cosmos DB, Blob Storage, telemetry) from the bundle.
        const poll = await fetch(`${apiBaseUrl}/_operations/export/00000000-0000-4000-8000-000000000000`);
        expect(poll.status).toBe(404);
        expect(app.output).not.toContain('telemetry is off');
      } finally {
        await app.dispose();
      }
    },
  );
});
