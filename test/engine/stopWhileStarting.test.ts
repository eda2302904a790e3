/**
 * A real-engine host that is told to stop while it is still starting (its task hub being created in
 * Azurite) stops, instead of living on: a supervisor restarting or shutting down an app must not have
 * to kill it.
 */
import { spawn } from 'node:child_process';
import { engineEnvironment, engineHostCommand } from '../../engine/launch';
import { AppProcess } from '../support/appProcess';

describe('the real-engine host, stopped while it starts', () => {
  const app = new AppProcess();
  afterAll(() => app.dispose());

  it('given SIGTERM before it is ready, it stops the extension and exits with 0', async () => {
    const { command, args } = engineHostCommand();
    // The extension's own start-up trace is the sign that the WebJobs host is starting.
    const child = spawn(command, args, {
      env: engineEnvironment({ ...app.env, ENGINE_LOG_LEVEL: 'Information' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let signalled = false;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const onOutput = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!signalled && /DurableTask/.test(output)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);

    // Without a handler of its own during start-up, the generic host's console lifetime takes the
    // signal and nothing ends the process.
    expect(await exited).toBe(0);
    expect(signalled).toBe(true);
  });
});
