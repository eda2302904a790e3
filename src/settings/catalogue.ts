/**
 * Every setting of the app, in the order of the settings table in docs/configuration.md
 * (`npm run docs:settings` renders it from these sections).
 */
import { AUTH } from './authSettings';
import { FHIR_SOURCE } from './fhirSourceSettings';
import { LOCAL, PLATFORM } from './hostSettings';
import type { SettingsSection } from './setting';
import { COSMOS, EXPORT, LIMITS, RETRY, SOURCE_KIND, STORAGE } from './serviceSettings';

/** The sections `loadConfig` reads, every entry of them. */
export const SERVICE_SECTIONS: readonly SettingsSection[] = [
  {
    title: 'Data and storage',
    settings: [...Object.values(COSMOS), ...Object.values(STORAGE), SOURCE_KIND],
  },
  {
    title: 'Export',
    settings: Object.values(EXPORT),
  },
  {
    title: 'Retries and throttling',
    intro:
      'A page that fails on a transient fault is retried with growing waits; a source that throttles is waited out.',
    settings: Object.values(RETRY),
  },
  {
    title: 'API limits',
    intro: 'Limits each caller meets (`docs/security.md`, "Limits").',
    settings: Object.values(LIMITS),
  },
  {
    title: 'Authentication',
    intro: 'How callers of the API are authenticated (`docs/security.md`).',
    settings: Object.values(AUTH),
  },
  {
    title: 'FHIR REST source',
    when: { SOURCE_KIND: ['fhir'] },
    settings: Object.values(FHIR_SOURCE),
  },
];

/** Read by the Functions host, the telemetry and the HTTP layer rather than by `loadConfig`. */
export const PLATFORM_SECTION: SettingsSection = {
  title: 'Azure host and telemetry',
  intro: 'Read outside `loadConfig`, by the Functions host, the telemetry and the HTTP layer.',
  settings: Object.values(PLATFORM),
};

export const LOCAL_SECTION: SettingsSection = {
  title: 'Local runtime only',
  intro:
    'Used by the local starts (`npm start`, `npm run start:engine`) and the embedded runtime (`docs/local-runtime.md`); Azure ignores them.',
  settings: Object.values(LOCAL),
};

export const SETTINGS_CATALOGUE: readonly SettingsSection[] = [
  ...SERVICE_SECTIONS,
  PLATFORM_SECTION,
  LOCAL_SECTION,
];
