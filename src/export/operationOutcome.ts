/** OperationOutcome bodies for errors and informational answers. */

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Array<{
    severity: 'fatal' | 'error' | 'warning' | 'information';
    code: string;
    diagnostics: string;
  }>;
}

export function operationOutcome(
  diagnostics: string,
  code = 'processing',
  severity: 'fatal' | 'error' | 'warning' | 'information' = 'error',
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}
