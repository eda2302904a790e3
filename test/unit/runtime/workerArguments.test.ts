import { spawnSync } from 'node:child_process';
import { WORKER_NODE_ARGUMENTS } from '../../../dev/runtime/workerArguments';

describe('WORKER_NODE_ARGUMENTS', () => {
  it('are options this Node accepts (an unknown one stops the process before any code runs)', () => {
    const run = spawnSync(process.execPath, [...WORKER_NODE_ARGUMENTS, '-e', 'process.exit(0)'], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
