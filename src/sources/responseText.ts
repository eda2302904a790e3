/**
 * What a FHIR server or token endpoint said, made safe to keep in a job's failure details and logs:
 * an OperationOutcome's text, without credentials, on one bounded line; and how long it asked us
 * to wait.
 */

const MAX_MESSAGE_CHARS = 300;

/**
 * Hides what looks like a credential (`Bearer <16+ chars>`, `token=…`, `client_secret=…`), collapses
 * white space and trims to `max` characters.
 */
export function sanitizeMessage(text: string, max: number = MAX_MESSAGE_CHARS): string {
  const cleaned = text
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi, '$1 [redacted]')
    .replace(/\b(access_token|refresh_token|client_secret|token)=([^&\s]+)/gi, '$1=[redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

/** The human-readable text of an OperationOutcome (diagnostics, else details.text), if any. */
export function outcomeText(body: unknown): string | undefined {
  if (!isRecord(body) || body.resourceType !== 'OperationOutcome' || !Array.isArray(body.issue))
    return undefined;
  const parts: string[] = [];
  for (const issue of body.issue) {
    if (!isRecord(issue)) continue;
    const details = isRecord(issue.details) ? issue.details.text : undefined;
    const text = typeof issue.diagnostics === 'string' ? issue.diagnostics : details;
    if (typeof text === 'string' && text.trim() !== '') parts.push(text.trim());
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/**
 * Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date (relative to `nowMs`).
 * Undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number.parseInt(text, 10);
  // HTTP dates always name a weekday and a month; a bare number with a sign or fraction is invalid.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
