/**
 * Helpers for the infra tests: run scripts/infra-check.sh and walk the compiled ARM template,
 * including the templates of nested deployments (Bicep modules).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const checkScript = path.join(repoRoot, 'scripts', 'infra-check.sh');

export interface CheckResult {
  status: number | null;
  output: string;
}

/** Runs the infra check on a template (default: infra/main.bicep) and returns its exit code and output. */
export function runInfraCheck(template?: string): CheckResult {
  const args = [checkScript, ...(template ? [template] : [])];
  const result = spawnSync('bash', args, { cwd: repoRoot, encoding: 'utf8', timeout: 280_000 });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

export type Json = Record<string, unknown>;

export interface ArmResource extends Json {
  type: string;
  name: string;
  properties?: Json;
}

export interface ArmTemplate extends Json {
  parameters?: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  variables?: Json;
  resources: ArmResource[] | Record<string, ArmResource>;
}

/** A resource and the template (module) that declares it. */
export interface Located {
  resource: ArmResource;
  template: ArmTemplate;
  /** Names of the nested deployments from the root down to the declaring template. */
  modulePath: string[];
}

export function readTemplate(file: string): ArmTemplate {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ArmTemplate;
}

function resourceList(template: ArmTemplate): ArmResource[] {
  return Array.isArray(template.resources) ? template.resources : Object.values(template.resources);
}

/** Every resource of the template and of its nested deployments, depth first. */
export function allResources(template: ArmTemplate, modulePath: string[] = []): Located[] {
  const found: Located[] = [];
  for (const resource of resourceList(template)) {
    found.push({ resource, template, modulePath });
    const nested = (resource.properties as { template?: ArmTemplate } | undefined)?.template;
    if (resource.type === 'Microsoft.Resources/deployments' && nested) {
      found.push(...allResources(nested, [...modulePath, resource.name]));
    }
  }
  return found;
}

/** The resources of a type that the template deploys (not those it only refers to with `existing`). */
export function ofType(template: ArmTemplate, type: string): Located[] {
  return allResources(template).filter(
    (l) => l.resource.type.toLowerCase() === type.toLowerCase() && l.resource.existing !== true,
  );
}

export function onlyOne(template: ArmTemplate, type: string): Located {
  const found = ofType(template, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * The role definition GUIDs an assignment can grant: literal GUIDs in its roleDefinitionId
 * expression plus those in the variables it refers to (a copy loop over a variable of roles
 * yields all of that variable's GUIDs).
 */
export function roleGuids(located: Located): string[] {
  const expression = String(located.resource.properties?.roleDefinitionId ?? '');
  let text = expression;
  for (const match of expression.matchAll(/variables\('([^']+)'\)/g)) {
    text += JSON.stringify(located.template.variables?.[match[1]] ?? null);
  }
  return [...new Set((text.match(GUID) ?? []).map((g) => g.toLowerCase()))];
}

/** Splits the top-level comma-separated arguments of an ARM expression call's argument list. */
export function splitArguments(argumentList: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let current = '';
  for (let i = 0; i < argumentList.length; i++) {
    const c = argumentList[i];
    if (inString) {
      current += c;
      if (c === "'") {
        if (argumentList[i + 1] === "'") {
          current += argumentList[++i];
        } else {
          inString = false;
        }
      }
      continue;
    }
    if (c === "'") inString = true;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

/** The argument list of the first `name(` call in an expression, up to its matching parenthesis. */
function callArguments(expression: string, name: string): string | undefined {
  const start = expression.indexOf(`${name}(`);
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start + name.length; i < expression.length; i++) {
    const c = expression[i];
    if (inString) {
      if (c === "'") inString = expression[i + 1] === "'" ? (i++, true) : false;
      continue;
    }
    if (c === "'") inString = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return expression.slice(start + name.length + 1, i);
  }
  return undefined;
}

/** A string literal of an ARM expression without its quotes, or the expression itself. */
export function unquote(argument: string): string {
  return /^'.*'$/s.test(argument) ? argument.slice(1, -1).replace(/''/g, "'") : argument;
}

/** The key/value pairs of the first `createObject(...)` in an ARM expression. */
export function createObjectPairs(expression: string): Record<string, string> {
  const argumentList = callArguments(expression, 'createObject');
  if (argumentList === undefined) return {};
  const args = splitArguments(argumentList);
  const pairs: Record<string, string> = {};
  for (let i = 0; i + 1 < args.length; i += 2) pairs[unquote(args[i])] = unquote(args[i + 1]);
  return pairs;
}
