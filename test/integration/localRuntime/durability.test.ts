/**
 * Unfinished orchestrations survive the process: state lives in `{dataDir}/durable/`, written
 * atomically, and a new runtime on the same dataDir resumes activities, timers and sub-orchestrations.
 *
 * The kill test needs a real second process. Plain node cannot run .ts, so the test transpiles
 * `dev/runtime/*.ts` and the two fixtures with the TypeScript API (`ts.transpileModule`, no type check:
 * `npx tsc` covers that) into a temp dir with the repo's layout, and points NODE_PATH at the repo's
 * node_modules. `@azure/functions-core` then resolves through the runtime's module hook, as in `npm start`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { LocalRuntime, ManualClock, startLocalRuntime } from '../../../dev/runtime/runtime';
import { control } from '../../fixtures/localRuntime/orchestrationApp';
import { fixture, tempDataDir, waitFor } from './helpers';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

function transpileInto(outDir: string, relativeFiles: string[]): void {
  for (const relative of relativeFiles) {
    const source = fs.readFileSync(path.join(repoRoot, relative), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: relative,
    });
    const target = path.join(outDir, relative.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
}

/** `entry` and the local modules it imports, transitively (other files of dev/runtime are not the runtime's). */
function runtimeModules(entry: string): string[] {
  const found = new Set<string>([entry]);
  for (const file of found) {
    const source = fs.readFileSync(path.join(repoRoot, file), 'utf8');
    for (const [, specifier] of source.matchAll(/from '(\.\/[\w]+)'/g)) {
      found.add(path.posix.join(path.posix.dirname(file), `${specifier}.ts`));
    }
  }
  return [...found];
}

function startChild(
  buildDir: string,
  dataDir: string,
  marker: string,
): Promise<{ child: ChildProcess; baseUrl: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_PATH: path.join(repoRoot, 'node_modules'),
    SLOW_APP_MARKER: marker,
  };
  delete env.WEBSITE_HOSTNAME; // the child's runtime sets its own
  const child = spawn(
    process.execPath,
    [path.join(buildDir, 'test/fixtures/localRuntime/childHost.js'), dataDir],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /READY (\S+)/.exec(stdout);
      if (ready) {
        resolve({ child, baseUrl: ready[1] });
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready: ${stderr}`)));
  });
}

describe('local runtime: durability', () => {
  test('a SIGKILLed process resumes its orchestrations when started again on the same dataDir', async () => {
    const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-runtime-build-'));
    const dataDir = tempDataDir('kill');
    const marker = path.join(dataDir, 'activity.log');
    const sources = runtimeModules('dev/runtime/runtime.ts');
    transpileInto(buildDir, [
      ...sources,
      'test/fixtures/localRuntime/slowApp.ts',
      'test/fixtures/localRuntime/childHost.ts',
    ]);
    const api = (baseUrl: string): string => `${baseUrl}/runtime/webhooks/durabletask`;
    const log = (): string => (fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '');

    const first = await startChild(buildDir, dataDir, marker);
    try {
      expect(
        (await fetch(`${api(first.baseUrl)}/orchestrators/SlowParent/slow-parent`, { method: 'POST' }))
          .status,
      ).toBe(202);
      expect(
        (
          await fetch(`${api(first.baseUrl)}/orchestrators/SlowTimer/slow-timer`, {
            method: 'POST',
            body: '2500',
          })
        ).status,
      ).toBe(202);
      await waitFor(() => log().includes('start 2'), 20_000); // step 2 (1.5 s) is running
    } finally {
      first.child.kill('SIGKILL');
    }
    await new Promise((resolve) => first.child.once('exit', resolve));
    expect(log()).not.toContain('end 2');

    const second = await startChild(buildDir, dataDir, marker);
    try {
      const completed = async (id: string): Promise<Record<string, unknown>> =>
        waitFor(async () => {
          const response = await fetch(`${api(second.baseUrl)}/instances/${id}`);
          return response.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined;
        }, 30_000);
      expect(await completed('slow-parent')).toMatchObject({
        runtimeStatus: 'Completed',
        output: { child: [10, 20, 30] },
      });
      expect(await completed('slow-parent-child')).toMatchObject({
        runtimeStatus: 'Completed',
        output: [10, 20, 30],
      });
      expect(await completed('slow-timer')).toMatchObject({
        runtimeStatus: 'Completed',
        output: 'timer fired',
      });
      const runs = log().trim().split('\n');
      expect(runs.filter((l) => l === 'start 1')).toHaveLength(1); // finished work is not redone
      expect(runs.filter((l) => l === 'start 2')).toHaveLength(2); // the interrupted activity ran again
      expect(runs.filter((l) => l === 'end 3')).toHaveLength(1);
      expect(
        fs.readdirSync(path.join(dataDir, 'durable', 'instances')).filter((f) => f.endsWith('.tmp')),
      ).toEqual([]);
    } finally {
      second.child.kill('SIGKILL');
      fs.rmSync(buildDir, { recursive: true, force: true });
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a new runtime re-arms timers by fireAt and re-dispatches unfinished activities of sub-orchestrations', async () => {
    const dataDir = tempDataDir('restart');
    const start = Date.UTC(2024, 5, 1);
    let runtime: LocalRuntime = await startLocalRuntime({
      appEntry: fixture('orchestrationApp'),
      dataDir,
      clock: new ManualClock(start),
    });
    try {
      await runtime.client.start('TimerOrchestrator', 60_000, 'restart-timer');
      await runtime.client.start('GatedChildParent', 'restart-gate', 'restart-parent');
      await waitFor(() => control.gates.get('restart-gate'));
      control.gates.delete('restart-gate');
      await runtime.stop();

      const clock = new ManualClock(start + 10_000);
      runtime = await startLocalRuntime({ appEntry: fixture('orchestrationApp'), dataDir, clock });
      const release = await waitFor(() => control.gates.get('restart-gate'));
      release('resumed');
      expect((await runtime.client.waitForCompletion('restart-parent')).output).toBe('parent saw resumed');

      await clock.waitForTimers(1);
      await clock.advance(49_999);
      expect((await runtime.client.getStatus('restart-timer'))?.runtimeStatus).toBe('Running');
      await clock.advance(1);
      expect((await runtime.client.waitForCompletion('restart-timer')).output).toMatchObject({
        resumedAt: new Date(start + 60_000).toISOString(),
      });
    } finally {
      await runtime.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
