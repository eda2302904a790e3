/**
 * A small evaluator of ARM template expressions (`[format('st{0}', parameters('x'))]`), enough to
 * compute what the compiled template makes of given parameters: resource names, app settings and
 * the fail() checks. Functions that depend on Azure (uniqueString, reference, environment, ...) are
 * stand-ins with values of the right shape.
 */
import { createHash } from 'node:crypto';
import type { ArmTemplate } from './armTemplate';

type Value = unknown;

type Node =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'property'; target: Node; name: string }
  | { kind: 'index'; target: Node; index: Node };

/** The deployment failed on a fail() call; `message` is what ARM would report. */
export class ArmFailure extends Error {}

function parse(text: string): Node {
  let pos = 0;
  const skip = () => {
    while (/\s/.test(text[pos] ?? '')) pos++;
  };
  const expect = (c: string) => {
    skip();
    if (text[pos] !== c) throw new Error(`expected ${c} at ${pos} in ${text}`);
    pos++;
  };
  const primary = (): Node => {
    skip();
    const c = text[pos];
    if (c === "'") {
      let value = '';
      pos++;
      for (;;) {
        if (pos >= text.length) throw new Error(`unterminated string in ${text}`);
        if (text[pos] === "'") {
          if (text[pos + 1] === "'") {
            value += "'";
            pos += 2;
            continue;
          }
          pos++;
          break;
        }
        value += text[pos++];
      }
      return { kind: 'string', value };
    }
    const number = /^-?\d+/.exec(text.slice(pos));
    if (number) {
      pos += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const name = /^[A-Za-z_][\w.]*/.exec(text.slice(pos));
    if (!name) throw new Error(`unexpected ${c} at ${pos} in ${text}`);
    pos += name[0].length;
    expect('(');
    const args: Node[] = [];
    skip();
    if (text[pos] === ')') pos++;
    else {
      for (;;) {
        args.push(expression());
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(')');
        break;
      }
    }
    return { kind: 'call', name: name[0].toLowerCase(), args };
  };
  const expression = (): Node => {
    let node = primary();
    for (;;) {
      skip();
      if (text[pos] === '.') {
        pos++;
        const name = /^[A-Za-z_$][\w$]*/.exec(text.slice(pos));
        if (!name) throw new Error(`bad property at ${pos} in ${text}`);
        pos += name[0].length;
        node = { kind: 'property', target: node, name: name[0] };
      } else if (text[pos] === '[') {
        pos++;
        const index = expression();
        expect(']');
        node = { kind: 'index', target: node, index };
      } else {
        return node;
      }
    }
  };
  const node = expression();
  skip();
  if (pos !== text.length) throw new Error(`trailing text at ${pos} in ${text}`);
  return node;
}

/** Stand-in of uniqueString(): 13 lower-case letters and digits, stable for the same input. */
function uniqueString(...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('|')).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from(digest.subarray(0, 13), (b) => alphabet[b % 32]).join('');
}

/** A value of any shape: every property is another stand-in, and as text it names its path. */
function standIn(label: string): Value {
  return new Proxy(
    {},
    {
      get: (_, property) =>
        property === Symbol.toPrimitive || property === 'toString'
          ? () => label
          : property === 'toJSON'
            ? () => label
            : typeof property === 'string'
              ? standIn(`${label}.${property}`)
              : undefined,
    },
  );
}

/** Evaluates the expressions of one template (a root template or a module's) for given parameters. */
export class ArmEvaluator {
  private readonly variableCache = new Map<string, Value>();
  private readonly parameterCache = new Map<string, Value>();

  constructor(
    private readonly template: ArmTemplate,
    private readonly parameterValues: Record<string, Value> = {},
    private readonly references: Record<string, Value> = {},
  ) {}

  parameter(name: string): Value {
    if (this.parameterCache.has(name)) return this.parameterCache.get(name);
    let value: Value;
    if (name in this.parameterValues) value = this.parameterValues[name];
    else {
      const declared = this.template.parameters?.[name];
      if (!declared) throw new Error(`no parameter ${name}`);
      if (declared.defaultValue === undefined) throw new Error(`parameter ${name} needs a value`);
      value = this.value(declared.defaultValue);
    }
    this.parameterCache.set(name, value);
    return value;
  }

  variable(name: string): Value {
    if (!this.variableCache.has(name)) {
      const variables = this.template.variables ?? {};
      if (!(name in variables)) throw new Error(`no variable ${name}`);
      this.variableCache.set(name, this.value(variables[name]));
    }
    return this.variableCache.get(name);
  }

  /** A template value: a string expression `[...]`, or an object or array holding some. */
  value(raw: Value): Value {
    if (typeof raw === 'string') {
      if (raw.startsWith('[[')) return raw.slice(1);
      if (raw.startsWith('[') && raw.endsWith(']')) return this.evaluate(raw.slice(1, -1));
      return raw;
    }
    if (Array.isArray(raw)) return raw.map((v) => this.value(v));
    if (raw && typeof raw === 'object') {
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, this.value(v)]));
    }
    return raw;
  }

  evaluate(expression: string): Value {
    return this.node(parse(expression), new Map());
  }

  private node(node: Node, lambdas: Map<string, Value>): Value {
    switch (node.kind) {
      case 'string':
      case 'number':
        return node.value;
      case 'property': {
        const target = this.node(node.target, lambdas) as Record<string, Value> | undefined;
        if (target === null || target === undefined) throw new Error(`property ${node.name} of nothing`);
        return target[node.name];
      }
      case 'index': {
        const target = this.node(node.target, lambdas) as Record<string, Value>;
        return target[String(this.node(node.index, lambdas))];
      }
      case 'call':
        return this.call(node, lambdas);
    }
  }

  private call(node: Extract<Node, { kind: 'call' }>, lambdas: Map<string, Value>): Value {
    const arg = (i: number) => this.node(node.args[i], lambdas);
    const args = () => node.args.map((_, i) => arg(i));
    const text = (i: number) => String(arg(i));
    // Applies a lambda('x', body) argument to a value.
    const apply = (lambdaNode: Node, value: Value) => {
      if (lambdaNode.kind !== 'call' || lambdaNode.name !== 'lambda') throw new Error('expected lambda');
      const name = String(this.node(lambdaNode.args[0], lambdas));
      return this.node(lambdaNode.args[1], new Map([...lambdas, [name, value]]));
    };
    switch (node.name) {
      case 'parameters':
        return this.parameter(text(0));
      case 'variables':
        return this.variable(text(0));
      case 'lambdavariables':
        return lambdas.get(text(0));
      case 'if':
        // Only the chosen branch is evaluated, as in ARM: the other may hold a fail().
        return arg(0) ? arg(1) : arg(2);
      case 'fail':
        throw new ArmFailure(text(0));
      case 'format': {
        const [pattern, ...rest] = args();
        return String(pattern).replace(/\{(\d+)\}/g, (_, i: string) => String(rest[Number(i)]));
      }
      case 'concat': {
        const values = args();
        return values.every(Array.isArray) ? values.flat() : values.map(String).join('');
      }
      case 'tolower':
        return text(0).toLowerCase();
      case 'toupper':
        return text(0).toUpperCase();
      case 'take': {
        const value = arg(0);
        return typeof value === 'string'
          ? value.slice(0, Number(arg(1)))
          : (value as Value[]).slice(0, Number(arg(1)));
      }
      case 'substring':
        return text(0).substr(Number(arg(1)), Number(arg(2)));
      case 'replace':
        return text(0).split(text(1)).join(text(2));
      case 'length': {
        const value = arg(0);
        return typeof value === 'string' || Array.isArray(value)
          ? value.length
          : Object.keys(value as object).length;
      }
      case 'empty': {
        const value = arg(0);
        if (value === null || value === undefined) return true;
        if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
        return typeof value === 'object' && Object.keys(value).length === 0;
      }
      case 'contains': {
        const container = arg(0);
        const item = arg(1);
        if (typeof container === 'string') return container.includes(String(item));
        if (Array.isArray(container)) return container.includes(item);
        return Object.prototype.hasOwnProperty.call(container, String(item));
      }
      case 'startswith':
        return text(0).toLowerCase().startsWith(text(1).toLowerCase());
      case 'endswith':
        return text(0).toLowerCase().endsWith(text(1).toLowerCase());
      case 'equals':
        return JSON.stringify(arg(0)) === JSON.stringify(arg(1));
      case 'and':
        return node.args.every((_, i) => Boolean(arg(i)));
      case 'or':
        return node.args.some((_, i) => Boolean(arg(i)));
      case 'not':
        return !arg(0);
      case 'true':
        return true;
      case 'false':
        return false;
      case 'null':
        return null;
      case 'string':
        return typeof arg(0) === 'string' ? arg(0) : JSON.stringify(arg(0));
      case 'int':
        return Number(arg(0));
      case 'add':
        return Number(arg(0)) + Number(arg(1));
      case 'div':
        return Math.trunc(Number(arg(0)) / Number(arg(1)));
      case 'range':
        return Array.from({ length: Number(arg(1)) }, (_, i) => Number(arg(0)) + i);
      case 'createarray':
        return args();
      case 'createobject': {
        const values = args();
        const result: Record<string, Value> = {};
        for (let i = 0; i + 1 < values.length; i += 2) result[String(values[i])] = values[i + 1];
        return result;
      }
      case 'union': {
        const values = args();
        if (values.every(Array.isArray)) return [...new Set(values.flat())];
        return Object.assign({}, ...values);
      }
      case 'join':
        return (arg(0) as Value[]).join(text(1));
      case 'map':
        return (arg(0) as Value[]).map((v) => apply(node.args[1], v));
      case 'filter':
        return (arg(0) as Value[]).filter((v) => apply(node.args[1], v));
      case 'uniquestring':
        return uniqueString(...args().map(String));
      case 'guid':
        return createHash('sha256').update(args().map(String).join('|')).digest('hex').slice(0, 32);
      case 'subscription':
        return { id: '/subscriptions/00000000-0000-0000-0000-000000000001', subscriptionId: '1' };
      case 'resourcegroup':
        return { id: '/subscriptions/1/resourceGroups/rg-test', name: 'rg-test', location: 'swedencentral' };
      case 'tenant':
        return { tenantId: '11111111-2222-3333-4444-555555555555' };
      case 'environment':
        return {
          authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
          suffixes: { storage: 'core.windows.net' },
        };
      case 'resourceid':
        return `/${args().map(String).join('/')}`;
      case 'subscriptionresourceid':
        return `/subscriptions/1/${args().map(String).join('/')}`;
      case 'reference': {
        const key = text(0);
        const found = Object.entries(this.references).find(([name]) => key.includes(name));
        return found ? found[1] : standIn(`reference(${key})`);
      }
      default:
        throw new Error(`ARM function ${node.name} is not supported by the test evaluator`);
    }
  }
}
