/** Memory and CPU of the bench's processes, read from /proc, to split each phase's cost per process. */
import { readFileSync } from 'node:fs';
import { processTree } from './appProcess';

/** CPU seconds used during a phase, per process (the machine's cores are shared by all of them). */
export interface CpuSplit {
  app?: number;
  limitProcess?: number;
  azurite: number;
  /** This process: the paging server and the Cosmos emulator (job store). */
  benchProcess: number;
}

/** VmRSS and VmHWM (peak) of a process, in MiB; undefined once it is gone. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process and its descendants (the real-engine host and its Node worker). */
export function cpuOfTree(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + cpuOfPid(p), 0);
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function cpuOfPid(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** Starts a CPU meter over Azurite and this process; `stop()` returns the split. */
export function cpuMeter(azuritePid: number): { stop(extra?: Partial<CpuSplit>): CpuSplit } {
  const azurite = cpuOfPid(azuritePid);
  const self = process.cpuUsage();
  return {
    stop: (extra = {}) => {
      const used = process.cpuUsage(self);
      return {
        ...extra,
        azurite: cpuOfPid(azuritePid) - azurite,
        benchProcess: (used.user + used.system) / 1e6,
      };
    },
  };
}
