/**
 * The fastest an export can go on this machine, judged from the two limits of the same run.
 *
 * Each limit runs alone and may use every core. The export has to do the work of both at once: read
 * and scan every page (the read limit's process and the paging server) and upload every block (the
 * write limit's process and Azurite). So it can be no faster than the slower limit, and no faster than
 * the CPU both limits burned together spread over all cores. When the second bound is the larger,
 * the slower limit is out of reach on this machine however well the export overlaps its work.
 */

/** What one limit took: wall time and the CPU seconds of every process that worked for it. */
export interface LimitCost {
  seconds: number;
  cpuSeconds: number;
}

export interface Ceiling {
  /** The shortest wall time an export of the same data can have here. */
  seconds: number;
  /** Which bound sets it: a limit itself, or the CPU of both limits over the cores. */
  boundBy: 'read limit' | 'write limit' | 'cpu of both limits';
  /** The CPU bound alone, in seconds (both limits' CPU seconds over the cores). */
  cpuBoundSeconds: number;
}

export function exportCeiling(read: LimitCost, write: LimitCost, cores: number): Ceiling {
  if (!(cores > 0)) throw new RangeError('cores must be positive');
  const cpuBoundSeconds = (read.cpuSeconds + write.cpuSeconds) / cores;
  const slowerLimit: Ceiling['boundBy'] = read.seconds >= write.seconds ? 'read limit' : 'write limit';
  const slowerSeconds = Math.max(read.seconds, write.seconds);
  return cpuBoundSeconds > slowerSeconds
    ? { seconds: cpuBoundSeconds, boundBy: 'cpu of both limits', cpuBoundSeconds }
    : { seconds: slowerSeconds, boundBy: slowerLimit, cpuBoundSeconds };
}
