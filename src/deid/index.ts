/** The de-identification engine and the types the export shares with it. */
export { deidEngine } from './engine';
export {
  AnonymizationConfigError,
  DeidentificationError,
  type CompiledConfiguration,
  type ConfigurationIssue,
  type DeidEngine,
  type DeidKeyName,
  type DeidKeys,
  type DeidOutcome,
  type Deidentifier,
} from './contract';
