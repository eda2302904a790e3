/** OperationOutcome bodies for errors and informational answers. */
import { AnonymizationConfigError, type ConfigurationIssue } from '../deid/contract';
import { clip } from '../util/clientText';
import type { ExportError } from './errors';

type Severity = 'fatal' | 'error' | 'warning' | 'information';

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Array<{ severity: Severity; code: string; diagnostics: string }>;
}

/** At most this many issues of a configuration are listed, so an answer stays small. */
const MAX_CONFIGURATION_ISSUES = 20;

export function operationOutcome(
  diagnostics: string,
  code = 'processing',
  severity: Severity = 'error',
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

/**
 * The answer to a typed error: its message, and for a configuration that cannot be used one issue
 * more per thing wrong with it, naming the rule by its index in `fhirPathRules`.
 */
export function errorOutcome(error: ExportError): OperationOutcome {
  const outcome = operationOutcome(error.message, error.issueCode);
  if (error instanceof AnonymizationConfigError) {
    for (const issue of error.issues.slice(0, MAX_CONFIGURATION_ISSUES)) {
      outcome.issue.push({ severity: 'error', code: 'invalid', diagnostics: issueText(issue) });
    }
  }
  return outcome;
}

function issueText(issue: ConfigurationIssue): string {
  const where =
    issue.ruleIndex === undefined
      ? ''
      : `fhirPathRules[${issue.ruleIndex}]${issue.path === undefined ? '' : ` (${clip(issue.path)})`}: `;
  return `${where}${clip(issue.reason, 300)}`;
}
