/** Runs one limit (bench/limits.ts) in a process of its own and meters the CPU of its timed part. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { LimitCost } from './ceiling';
import { CLOCK_STARTED, CLOCK_STOPPED, RESULT_PREFIX, type LimitOptions, type LimitResult } from './limits';
import { cpuMeter, type CpuSplit } from './processMeter';
import { MB, type LimitFigures } from './report';

const LIMITS = path.join(__dirname, 'limits.js');

function runChild(script: string, args: string[], onOutput: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      onOutput(out);
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${code}`)),
    );
  });
}

/** Runs the read or the write limit on the given options; its rates and the CPU of every process. */
export async function limit(
  mode: 'read' | 'write',
  options: LimitOptions,
  azuritePid: number,
): Promise<LimitFigures> {
  // Azurite and this process are metered over the child's timed part only: not its set-up and
  // warm-up before, nor its clean-up after (the write limit deletes everything it wrote).
  let meter: ReturnType<typeof cpuMeter> | undefined;
  let metered: CpuSplit | undefined;
  const out = await runChild(LIMITS, [mode, JSON.stringify(options)], (text) => {
    if (!meter && text.includes(CLOCK_STARTED)) meter = cpuMeter(azuritePid);
    if (meter && !metered && text.includes(CLOCK_STOPPED)) metered = meter.stop();
  });
  if (!meter || !metered) throw new Error(`${mode} limit never started and stopped its clock`);
  const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) throw new Error(`${mode} limit printed no result`);
  const r = JSON.parse(line.slice(RESULT_PREFIX.length)) as LimitResult;
  const cpu = { ...metered, limitProcess: r.cpuSeconds };
  return { ...r, resourcesPerSecond: r.resources / r.seconds, mbPerSecond: r.bytes / MB / r.seconds, cpu };
}

/** A limit's wall time and the CPU every process spent on it. */
export function limitCost(figures: LimitFigures): LimitCost {
  const { limitProcess = 0, azurite, benchProcess } = figures.cpu;
  return { seconds: figures.seconds, cpuSeconds: limitProcess + azurite + benchProcess };
}
