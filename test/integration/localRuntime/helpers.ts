import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tempDataDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `local-runtime-${label}-`));
}

/** Polls `probe` until it returns something other than undefined/false. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const fixture = (name: string): string =>
  path.join(__dirname, '..', '..', 'fixtures', 'localRuntime', name);
