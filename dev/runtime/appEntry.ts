/**
 * Which app the local hosts load. By default the checkout's build (`dist/functions/index.js`); with
 * an app root (a folder with host.json and package.json, such as the deployment package's
 * `package/app`), the module its package.json names as `main`, as the Functions host loads it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export function appEntry(appRoot: string | undefined, defaultEntry: string): string {
  if (!appRoot) return defaultEntry;
  const manifest = JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as { main?: unknown };
  if (typeof manifest.main !== 'string') throw new Error(`${appRoot}/package.json has no "main"`);
  return path.resolve(appRoot, manifest.main);
}
