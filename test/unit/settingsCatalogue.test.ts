/**
 * Every entry of the settings catalogue is read by its reader with the catalogue's default and
 * range: `loadConfig` for the service's settings, the host and local readers for the rest. A table
 * that documents a setting the code ignores, or a default or range the code does not apply, fails
 * here.
 */
import { loadConfig } from '../../src/config';
import {
  LOCAL_SECTION,
  PLATFORM_SECTION,
  SERVICE_SECTIONS,
  SETTINGS_CATALOGUE,
} from '../../src/settings/catalogue';
import { localSettingsFromEnv, platformSettingsFromEnv } from '../../src/settings/hostSettings';
import type { Env, Setting, SettingCondition, SettingsSection } from '../../src/settings/setting';

type Reader = (env: Env) => unknown;

const READERS: readonly (readonly [string, Reader, readonly SettingsSection[]])[] = [
  ['loadConfig', loadConfig, SERVICE_SECTIONS],
  ['platformSettingsFromEnv', platformSettingsFromEnv, [PLATFORM_SECTION]],
  ['localSettingsFromEnv', localSettingsFromEnv, [LOCAL_SECTION]],
];

/** A valid environment in which every required setting of every mode is present. */
const COMPLETE: Env = {
  COSMOS_ENDPOINT: 'https://cosmos.example.org:443/',
  EXPORT_STORAGE_ACCOUNT_URL: 'https://storage.example.org/',
  AUTH_ISSUER: 'https://issuer.example.org/',
  AUTH_AUDIENCE: 'api://fhir-export',
  AUTH_JWKS_URI: 'https://issuer.example.org/keys',
  FHIR_SOURCE_URL: 'https://fhir.example.org/r4',
  FHIR_SOURCE_TOKEN: 'token',
  FHIR_SOURCE_TOKEN_URL: 'https://login.example.org/token',
  FHIR_SOURCE_CLIENT_ID: 'client',
  FHIR_SOURCE_CLIENT_SECRET: 'secret',
};

/** Found in the read configuration when the probed setting was read; absent from COMPLETE. */
const PROBE = 'probevalue';
const PROBES: Record<string, string> = {
  COSMOS_CONNECTION_STRING: `AccountEndpoint=https://${PROBE}.example.org:443/;AccountKey=a2V5;`,
  FHIR_SOURCE_DEFAULT_TYPES: 'Probevalue',
};

/** Every combination of values the conditions allow, as settings. */
function casesOf(condition: SettingCondition): Env[] {
  return Object.entries(condition).reduce<Env[]>(
    (partial, [name, values]) => partial.flatMap((env) => values.map((value) => ({ ...env, [name]: value }))),
    [{}],
  );
}

/** COMPLETE in each case where the setting is read, without the setting itself. */
function basesFor(section: SettingsSection, setting: Setting): Env[] {
  return casesOf({ ...section.when, ...setting.when }).map((condition) => {
    const env: Env = { ...COMPLETE, ...condition };
    delete env[setting.name];
    return env;
  });
}

function asWritten(setting: Setting): string | undefined {
  switch (setting.kind) {
    case 'switch':
      return setting.default ? 'on' : 'off';
    case 'integer':
    case 'decimal':
      return String(setting.default);
    default:
      return setting.default;
  }
}

const mentionsProbe = (value: unknown) => JSON.stringify(value).toLowerCase().includes(PROBE);

const cases = READERS.flatMap(([readerName, read, sections]) =>
  sections.flatMap((section) =>
    section.settings.map((setting) => ({ readerName, read, section, setting, name: setting.name })),
  ),
);

test('every section of the catalogue has its reader here', () => {
  expect(READERS.flatMap(([, , sections]) => sections)).toEqual(SETTINGS_CATALOGUE);
});

test('conditions name settings of the catalogue and values they can take', () => {
  const byName = new Map(SETTINGS_CATALOGUE.flatMap((s) => s.settings).map((s) => [s.name, s]));
  const conditions = SETTINGS_CATALOGUE.flatMap((section) => [
    section.when,
    ...section.settings.map((s) => s.when),
  ]);
  for (const condition of conditions) {
    for (const [name, values] of Object.entries(condition ?? {})) {
      const setting = byName.get(name);
      expect(setting?.kind).toBe('choice');
      if (setting?.kind === 'choice') expect(setting.values).toEqual(expect.arrayContaining([...values]));
    }
  }
});

describe.each(cases)('$name ($readerName)', ({ read, section, setting, name }) => {
  const bases = basesFor(section, setting);
  const base = bases[0];
  const withValue = (value: string) => read({ ...base, [name]: value });

  const written = asWritten(setting);
  if (written !== undefined) {
    test(`the documented default ${written} is the one applied`, () => {
      expect(withValue(written)).toEqual(read(base));
    });
  }

  switch (setting.kind) {
    case 'integer':
    case 'decimal': {
      const { min, max } = setting;
      const highest = max ?? Number.MAX_SAFE_INTEGER;
      test(`takes ${min} to ${max ?? 'any size'} and nothing outside`, () => {
        expect(() => withValue(String(min))).not.toThrow();
        expect(() => withValue(String(highest))).not.toThrow();
        expect(() => withValue(String(min - 1))).toThrow(name);
        if (max !== undefined) expect(() => withValue(String(max + 1))).toThrow(name);
        expect(() => withValue('lots')).toThrow(name);
      });
      test('a value other than the default changes what is read', () => {
        const other = setting.default === min ? highest : min;
        expect(withValue(String(other))).not.toEqual(read(base));
      });
      break;
    }
    case 'choice':
      test(`takes ${setting.values.join(', ')} and nothing else`, () => {
        for (const value of setting.values) expect(() => withValue(value)).not.toThrow();
        expect(() => withValue('no-such-choice')).toThrow(name);
      });
      test('a value other than the default changes what is read', () => {
        const other = setting.values.find((value) => value !== setting.default) ?? setting.default;
        expect(withValue(other)).not.toEqual(read(base));
      });
      break;
    case 'switch':
      test('takes on and off, which differ, and nothing else', () => {
        expect(withValue('on')).not.toEqual(withValue('off'));
        expect(() => withValue('maybe')).toThrow(name);
      });
      break;
    default:
      if (setting.required) {
        test('is required', () => {
          for (const env of bases) expect(() => read(env)).toThrow(name);
        });
      } else {
        test('is optional (in one case at least)', () => {
          const optionalIn = bases.filter((env) => {
            try {
              return !mentionsProbe(read(env));
            } catch {
              return false;
            }
          });
          expect(optionalIn).not.toHaveLength(0);
        });
      }
      test('its value is what is read', () => {
        const probe = PROBES[name] ?? (setting.kind === 'url' ? `https://${PROBE}.example.org/r4` : PROBE);
        for (const env of bases) expect(mentionsProbe(read({ ...env, [name]: probe }))).toBe(true);
      });
  }
});
