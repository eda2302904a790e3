/**
 * `LOCAL_CRASH_AT=phase:page` (e.g. `written:1`) makes the local app SIGKILL itself once, right after
 * that phase of that page of any unit, to show that a restarted runtime finishes the export with
 * each resource exactly once. A marker file in the data folder keeps it from crashing again.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ExportDeps, PageStepPhase } from '../../src/export/exportDeps';

const PHASES: readonly PageStepPhase[] = ['searched', 'staged', 'written', 'checkpointed'];

export function crashProbeFromEnv(setting: string | undefined, dataDir: string): ExportDeps['probe'] {
  if (!setting) return undefined;
  const [phase, pageText] = setting.split(':');
  const page = Number(pageText ?? '0');
  if (!PHASES.includes(phase as PageStepPhase) || !Number.isInteger(page)) {
    throw new Error(
      `Invalid setting LOCAL_CRASH_AT: "${setting}" is not phase:page with phase one of ${PHASES.join(', ')}`,
    );
  }
  const marker = path.join(dataDir, 'crash-injected');
  return (at, where) => {
    if (at !== phase || where.page !== page || existsSync(marker)) return;
    writeFileSync(marker, `${at}:${where.page} ${where.jobId} ${where.unitId}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}
