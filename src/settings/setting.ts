/**
 * The shape of one setting in the catalogue, and the readers that apply it to an environment.
 *
 * Each setting is data (name, kind, default, range, meaning) so that the code that reads it and the
 * settings table in docs/configuration.md come from the same place and cannot disagree.
 */

export type Env = Record<string, string | undefined>;

/** Settings another setting depends on: each named setting must hold one of the listed values. */
export type SettingCondition = Readonly<Record<string, readonly string[]>>;

interface About {
  /** The environment variable (app setting on Azure). */
  readonly name: string;
  /** One sentence for the settings table. */
  readonly meaning: string;
  /** Read only in this case (beyond its section's condition). */
  readonly when?: SettingCondition;
}

export interface IntegerSetting extends About {
  readonly kind: 'integer';
  readonly default: number;
  readonly min: number;
  /** Absent: any safe integer from `min` up. */
  readonly max?: number;
  /** Counts bytes, so the table also shows them in KiB, MiB or GiB. */
  readonly bytes?: boolean;
}

export interface DecimalSetting extends About {
  readonly kind: 'decimal';
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface ChoiceSetting<T extends string = string> extends About {
  readonly kind: 'choice';
  readonly values: readonly T[];
  readonly default: T;
}

/** `on` or `off`. */
export interface SwitchSetting extends About {
  readonly kind: 'switch';
  readonly default: boolean;
}

/** `list` is comma-separated; `secret` holds a credential. */
export type TextKind = 'text' | 'url' | 'list' | 'secret';

export interface TextSetting extends About {
  readonly kind: TextKind;
  readonly default?: string;
  /** No default: start-up fails without it where it applies. */
  readonly required?: boolean;
}

export type Setting = IntegerSetting | DecimalSetting | ChoiceSetting | SwitchSetting | TextSetting;

export interface SettingsSection {
  readonly title: string;
  /** One or two sentences under the section's heading. */
  readonly intro?: string;
  /** Every setting of the section is read only in this case. */
  readonly when?: SettingCondition;
  readonly settings: readonly Setting[];
}

export function integer(spec: Omit<IntegerSetting, 'kind'>): IntegerSetting {
  return { kind: 'integer', ...spec };
}

export function decimal(spec: Omit<DecimalSetting, 'kind'>): DecimalSetting {
  return { kind: 'decimal', ...spec };
}

// `const T` keeps the literal values, so readers return the union the code expects.
export function choice<const T extends string>(spec: Omit<ChoiceSetting<T>, 'kind'>): ChoiceSetting<T> {
  return { kind: 'choice', ...spec };
}

export function onOff(spec: Omit<SwitchSetting, 'kind'>): SwitchSetting {
  return { kind: 'switch', ...spec };
}

type TextSpec = Omit<TextSetting, 'kind'>;
// The spec's own type is kept, so a setting given a default reads as a plain string.
const textual =
  <K extends TextKind>(kind: K) =>
  <const S extends TextSpec>(spec: S): S & { readonly kind: K } => ({ kind, ...spec });

export const text = textual('text');
export const url = textual('url');
export const list = textual('list');
export const secret = textual('secret');

/** A bad setting found at start-up; the message names it. */
export class ConfigurationError extends Error {
  constructor(setting: string, problem: string) {
    super(`Invalid setting ${setting}: ${problem}`);
    this.name = 'ConfigurationError';
  }
}

/** A whole number within the setting's range; unset or blank gives the default. */
export function readInteger(env: Env, setting: IntegerSetting): number {
  const { name, min, max = Number.MAX_SAFE_INTEGER } = setting;
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return setting.default;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigurationError(name, `"${raw}" is not a whole number`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigurationError(name, `${value} is outside ${min}..${max}`);
  return value;
}

/** A finite number within the setting's range; unset or blank gives the default. */
export function readDecimal(env: Env, setting: DecimalSetting): number {
  const { name, min, max } = setting;
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return setting.default;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new ConfigurationError(name, `"${raw}" is not a number`);
  if (value < min || value > max) throw new ConfigurationError(name, `${value} is outside ${min}..${max}`);
  return value;
}

/** One of the setting's values, exactly as written; unset or blank gives the default. */
export function readChoice<T extends string>(env: Env, setting: ChoiceSetting<T>): T {
  const raw = env[setting.name];
  if (raw === undefined || raw.trim() === '') return setting.default;
  if (!(setting.values as readonly string[]).includes(raw)) {
    throw new ConfigurationError(setting.name, `"${raw}" is not one of ${setting.values.join(', ')}`);
  }
  return raw as T;
}

const SWITCH_VALUES = ['on', 'off'] as const;

/** `on` is true, `off` false; unset or blank gives the default. */
export function readSwitch(env: Env, setting: SwitchSetting): boolean {
  const spec = choice({
    name: setting.name,
    meaning: setting.meaning,
    values: SWITCH_VALUES,
    default: setting.default ? 'on' : 'off',
  });
  return readChoice(env, spec) === 'on';
}

/** The value as given; an empty one counts as unset. */
export function readText(env: Env, setting: TextSetting & { readonly default: string }): string;
export function readText(env: Env, setting: TextSetting): string | undefined;
export function readText(env: Env, setting: TextSetting): string | undefined {
  return env[setting.name] || setting.default;
}
