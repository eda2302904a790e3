/**
 * scripts/infra-check.sh must fail (non-zero exit) on a template with a syntax error, on a linter
 * finding, and on a plain warning that no configuration raises to an error.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot, runInfraCheck } from './armTemplate';

const infraDir = path.join(repoRoot, 'infra');
// Restored CLI and build output are not part of the template.
const NOT_COPIED = new Set(['.bicep-cli', 'build']);

let workDir: string;

/** A fresh copy of infra/ (templates, modules, bicepconfig.json) in a temporary folder. */
function copyInfra(name: string): string {
  const target = path.join(workDir, name);
  fs.cpSync(infraDir, target, {
    recursive: true,
    filter: (source) => !NOT_COPIED.has(path.relative(infraDir, source).split(path.sep)[0]),
  });
  return target;
}

beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infra-check-'));
});

afterAll(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('Given a copy of infra/ checked by scripts/infra-check.sh', () => {
  it('When nothing is changed, then the check passes and writes the ARM JSON next to the template', () => {
    const copy = copyInfra('pristine');
    const result = runInfraCheck(path.join(copy, 'main.bicep'));
    expect(result.output).not.toMatch(/ : (Warning|Error) /);
    expect(result.status).toBe(0);
    expect(fs.existsSync(path.join(copy, 'build', 'main.json'))).toBe(true);
  }, 300_000);

  it('When main.bicep has a syntax error, then the check fails', () => {
    const copy = copyInfra('syntax');
    const main = path.join(copy, 'main.bicep');
    fs.appendFileSync(
      main,
      "\nresource broken 'Microsoft.Storage/storageAccounts@2025-06-01' = {\n  name: \n",
    );
    const result = runInfraCheck(main);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/ : Error BCP\d+/);
    expect(fs.existsSync(path.join(copy, 'build', 'main.json'))).toBe(false);
  }, 300_000);

  it('When a module declares an unused parameter, then the linter finding fails the check', () => {
    const copy = copyInfra('unused-param');
    fs.appendFileSync(path.join(copy, 'app', 'storage.bicep'), "\nparam unusedProbe string = 'x'\n");
    const result = runInfraCheck(path.join(copy, 'main.bicep'));
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/no-unused-params/);
  }, 300_000);

  it('When a finding is only a warning (rule not raised to error), then the check still fails', () => {
    const copy = copyInfra('warning-only');
    const configFile = path.join(copy, 'bicepconfig.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    config.analyzers.core.rules['no-unused-params'] = { level: 'warning' };
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    fs.appendFileSync(path.join(copy, 'main.bicep'), "\nparam unusedProbe string = 'x'\n");
    const result = runInfraCheck(path.join(copy, 'main.bicep'));
    expect(result.output).toMatch(/ : Warning no-unused-params/);
    expect(result.status).not.toBe(0);
  }, 300_000);

  it('When the template path does not exist, then the check fails', () => {
    const result = runInfraCheck(path.join(workDir, 'missing', 'main.bicep'));
    expect(result.status).not.toBe(0);
  });
});
