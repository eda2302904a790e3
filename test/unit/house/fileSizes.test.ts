/** Every file of what is deployed can be read in one sitting: at most 400 lines. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MAX_LINES = 400;

function tsFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const full = path.join(folder, entry);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

describe('the deployed code (src/, functions/)', () => {
  it(`has no file over ${MAX_LINES} lines`, () => {
    const tooLong = ['src', 'functions']
      .flatMap((folder) => tsFiles(path.join(ROOT, folder)))
      .map((file) => ({
        file: path.relative(ROOT, file),
        lines: readFileSync(file, 'utf8').split('\n').length - 1,
      }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(tooLong).toEqual([]);
  });
});
