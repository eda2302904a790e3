/**
 * Client-supplied text as it may be echoed in an OperationOutcome, a log line or telemetry: anything
 * outside printable ASCII (control characters, line breaks, escapes) becomes `?`, so it cannot forge
 * log lines or terminal output, and it is cut to `max` characters, so one request cannot fill a
 * response or a log with its own content.
 */
export function clip(value: string, max = 80): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max - 3)}...` : printable;
}
