/**
 * `npm run docs:settings [-- --check]`: renders the settings catalogue (src/settings/) as Markdown
 * tables into docs/configuration.md, between the settings markers. `--check` only reports whether
 * the document is up to date (exit 1 when not).
 *
 * The output is already in Prettier's Markdown form (padded columns), so `prettier --check` passes
 * without a formatting step and the unit test can compare it without loading Prettier.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SETTINGS_CATALOGUE } from '../src/settings/catalogue';
import type { Setting, SettingCondition, SettingsSection } from '../src/settings/setting';

export const CONFIGURATION_DOC = path.join('docs', 'configuration.md');
export const BEGIN_MARKER = '<!-- settings:begin -->';
export const END_MARKER = '<!-- settings:end -->';

const code = (value: string | number) => `\`${value}\``;

function sizeInUnits(bytes: number): string | undefined {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return undefined;
}

function amount(value: number, bytes: boolean | undefined): string {
  const units = bytes ? sizeInUnits(value) : undefined;
  return units ? `${code(value)} (${units})` : code(value);
}

function range(min: number, max: number | undefined): string {
  return max === undefined ? `≥ ${min}` : `${min}–${max}`;
}

function values(setting: Setting): string {
  switch (setting.kind) {
    case 'integer': {
      const { min, max, bytes } = setting;
      const units = bytes && max !== undefined ? [sizeInUnits(min), sizeInUnits(max)] : [];
      const inUnits = units.every((u) => u !== undefined) && units.length > 0 ? ` (${units.join('–')})` : '';
      return `integer ${range(min, max)}${inUnits}`;
    }
    case 'decimal':
      return `number ${range(setting.min, setting.max)}`;
    case 'choice':
      return setting.values.map(code).join(', ');
    case 'switch':
      return `${code('on')}, ${code('off')}`;
    case 'text':
      return 'text';
    case 'url':
      return 'URL';
    case 'list':
      return 'comma-separated list';
    case 'secret':
      return 'secret';
  }
}

function defaultValue(setting: Setting): string {
  switch (setting.kind) {
    case 'integer':
      return amount(setting.default, setting.bytes);
    case 'decimal':
    case 'choice':
      return code(setting.default);
    case 'switch':
      return code(setting.default ? 'on' : 'off');
    default:
      if (setting.default !== undefined) return code(setting.default);
      return setting.required ? 'required' : '—';
  }
}

function condition(when: SettingCondition): string {
  return Object.entries(when)
    .map(([name, allowed]) => `${code(name)} is ${allowed.map(code).join(' or ')}`)
    .join(' and ');
}

function meaning(setting: Setting): string {
  return setting.when ? `${setting.meaning} Read when ${condition(setting.when)}.` : setting.meaning;
}

/** A table as Prettier prints it: every column padded to its widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  for (const cell of rows.flat()) {
    // A pipe would end the cell; the catalogue's sentences never need one.
    if (cell.includes('|')) throw new Error(`A settings table cell must not contain "|": ${cell}`);
  }
  const width = (cell: string) => [...cell].length;
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((row) => width(row[i]))));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell + ' '.repeat(widths[i] - width(cell))).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** The Markdown of the catalogue: one heading, intro and table per section. */
export function renderSettings(sections: readonly SettingsSection[] = SETTINGS_CATALOGUE): string {
  const lines: string[] = [];
  for (const section of sections) {
    lines.push(`### ${section.title}`, '');
    const intro = [section.intro, section.when && `Read only when ${condition(section.when)}.`];
    const sentences = intro.filter((s): s is string => Boolean(s));
    if (sentences.length > 0) lines.push(sentences.join(' '), '');
    const rows = section.settings.map((s) => [code(s.name), defaultValue(s), values(s), meaning(s)]);
    lines.push(...table(['Setting', 'Default', 'Values', 'Meaning'], rows), '');
  }
  return lines.join('\n').trimEnd();
}

/** The document with the rendered settings between its markers. */
export function withSettings(document: string, rendered: string): string {
  const begin = document.indexOf(BEGIN_MARKER);
  const end = document.indexOf(END_MARKER);
  if (begin < 0 || end < begin) {
    throw new Error(
      `${CONFIGURATION_DOC} needs the markers ${BEGIN_MARKER} and ${END_MARKER}, in that order`,
    );
  }
  return `${document.slice(0, begin + BEGIN_MARKER.length)}\n\n${rendered}\n\n${document.slice(end)}`;
}

/** The document's path: the script runs from scripts/ or from the build in dist/scripts/. */
function configurationDoc(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, CONFIGURATION_DOC);
    if (existsSync(file)) return file;
    if (path.dirname(dir) === dir) throw new Error(`${CONFIGURATION_DOC} not found above the script`);
  }
}

function main(): void {
  const file = configurationDoc();
  const current = readFileSync(file, 'utf8');
  const updated = withSettings(current, renderSettings());
  if (process.argv.includes('--check')) {
    if (updated !== current) {
      console.error(`${CONFIGURATION_DOC} is out of date: run npm run docs:settings`);
      process.exit(1);
    }
    console.log(`${CONFIGURATION_DOC} is up to date.`);
    return;
  }
  if (updated === current) {
    console.log(`${CONFIGURATION_DOC} is up to date.`);
    return;
  }
  writeFileSync(file, updated);
  console.log(`Wrote the settings tables into ${CONFIGURATION_DOC}.`);
}

if (require.main === module) main();
