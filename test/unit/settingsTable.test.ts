/**
 * docs/configuration.md carries the settings tables rendered from the catalogue (src/settings/), so
 * a change to a setting's name, default, range or meaning that is not rendered into it fails here.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  BEGIN_MARKER,
  CONFIGURATION_DOC,
  END_MARKER,
  renderSettings,
  withSettings,
} from '../../scripts/settingsTable';
import { SETTINGS_CATALOGUE } from '../../src/settings/catalogue';
import { integer, text, type SettingsSection } from '../../src/settings/setting';

const root = path.join(__dirname, '..', '..');
const readDoc = (file: string) => readFileSync(path.join(root, file), 'utf8');

/** Where two texts first differ, to point at the stale row. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  const line = a.findIndex((row, i) => row !== e[i]);
  const at = line < 0 ? a.length : line;
  return `line ${at + 1}:\n  in the document: ${a[at] ?? '(end)'}\n  from the catalogue: ${e[at] ?? '(end)'}`;
}

describe('the settings tables in docs/configuration.md', () => {
  it('are what the catalogue renders', () => {
    const doc = readDoc(CONFIGURATION_DOC);
    const expected = withSettings(doc, renderSettings());
    if (doc !== expected) {
      throw new Error(
        `${CONFIGURATION_DOC} disagrees with the settings catalogue (src/settings/): run \`npm run docs:settings\`.\n` +
          `First difference at ${firstDifference(doc, expected)}`,
      );
    }
  });

  it('name every setting exactly once', () => {
    const names = SETTINGS_CATALOGUE.flatMap((section) => section.settings.map((s) => s.name));
    expect(new Set(names).size).toBe(names.length);
    const doc = readDoc(CONFIGURATION_DOC);
    for (const name of names) expect(doc.split(`| \`${name}\` `).length - 1).toBe(1);
  });

  it('are the only settings table: the README links the document instead', () => {
    const readme = readDoc('README.md');
    expect(readme).toContain('docs/configuration.md');
    expect(readme).not.toMatch(/^\| Setting /m);
  });
});

describe('renderSettings', () => {
  const section: SettingsSection = {
    title: 'Sample',
    when: { SAMPLE_KIND: ['a', 'b'] },
    settings: [
      integer({ name: 'SAMPLE_SIZE', default: 2048, min: 1024, max: 4096, bytes: true, meaning: 'Size.' }),
      text({ name: 'SAMPLE_NAME', required: true, when: { SAMPLE_MODE: ['x'] }, meaning: 'Name.' }),
    ],
  };

  it('pads every column to its widest cell, as Prettier does, and states the conditions', () => {
    expect(renderSettings([section]).split('\n')).toEqual([
      '### Sample',
      '',
      'Read only when `SAMPLE_KIND` is `a` or `b`.',
      '',
      '| Setting       | Default        | Values                          | Meaning                               |',
      '| ------------- | -------------- | ------------------------------- | ------------------------------------- |',
      '| `SAMPLE_SIZE` | `2048` (2 KiB) | integer 1024–4096 (1 KiB–4 KiB) | Size.                                 |',
      '| `SAMPLE_NAME` | required       | text                            | Name. Read when `SAMPLE_MODE` is `x`. |',
    ]);
  });

  it('refuses a cell that would break the table', () => {
    const broken = { ...section, settings: [text({ name: 'X', meaning: 'a | b' })] };
    expect(() => renderSettings([broken])).toThrow('must not contain "|"');
  });

  it('replaces only what lies between the markers, and needs both', () => {
    const doc = `# T\n\n${BEGIN_MARKER}\nold\n${END_MARKER}\n\nAfter.\n`;
    expect(withSettings(doc, 'new')).toBe(`# T\n\n${BEGIN_MARKER}\n\nnew\n\n${END_MARKER}\n\nAfter.\n`);
    expect(() => withSettings('# T\n', 'new')).toThrow(BEGIN_MARKER);
  });
});
