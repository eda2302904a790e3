/** What a kick-off reports of the values lenient handling ignored: a bounded list, so a request cannot grow its answer or its job record without end. */
/** At most this many warnings are reported; a request of thousands of ignored values gets one line more. */
const MAX_WARNINGS = 20;

/** The warnings as reported to the client and kept on the job. */
export function reportedWarnings(warnings: string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return warnings;
  return [
    ...warnings.slice(0, MAX_WARNINGS),
    `${warnings.length - MAX_WARNINGS} more warnings are not listed.`,
  ];
}
