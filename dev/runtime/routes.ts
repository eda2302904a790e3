/**
 * Route templates of HTTP triggers, as the Functions host reads them: literal segments (matched
 * case-insensitively), `{name}`, optional trailing `{name?}`, catch-all `{*name}`, and segments mixing both
 * (`{type}.ndjson`); a `:constraint` suffix is accepted, and only `int` is enforced.
 */
type RouteSegment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; catchAll: boolean; intOnly: boolean }
  | { kind: 'pattern'; regex: RegExp; names: string[] };

/** A segment mixing literals and parameters, e.g. `{type}.ndjson`. */
function complexSegment(raw: string): RouteSegment {
  const names: string[] = [];
  const source = raw
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const param = /^\{([A-Za-z_]\w*)(?::[^}]*)?\}$/.exec(part);
      if (param) {
        names.push(param[1]);
        return '(.+?)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { kind: 'pattern', regex: new RegExp(`^${source}$`, 'i'), names };
}

export interface CompiledRoute {
  template: string;
  segments: RouteSegment[];
  /** Higher matches first: literal segments beat parameters. */
  specificity: number;
}

export function compileRoute(template: string): CompiledRoute {
  const segments = template
    .split('/')
    .filter((s) => s.length > 0)
    .map((raw): RouteSegment => {
      const param = /^\{(\*?)([A-Za-z_][\w]*)(?::([A-Za-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(raw);
      if (!param) {
        return raw.includes('{') ? complexSegment(raw) : { kind: 'literal', text: raw.toLowerCase() };
      }
      return {
        kind: 'param',
        name: param[2],
        catchAll: param[1] === '*',
        intOnly: param[3] === 'int',
        optional: param[4] === '?',
      };
    });
  const specificity = segments.reduce(
    (sum, s) =>
      sum + (s.kind === 'literal' ? 3 : s.kind === 'pattern' ? 2 : s.optional || s.catchAll ? 0 : 1),
    0,
  );
  return { template, segments, specificity };
}

/** The route's parameters if `pathSegments` (already URL-decoded) match it, else undefined. */
export function matchRoute(
  route: CompiledRoute,
  pathSegments: readonly string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let index = 0;
  for (const segment of route.segments) {
    const value = pathSegments[index];
    if (segment.kind === 'literal') {
      if (value === undefined || value.toLowerCase() !== segment.text) {
        return undefined;
      }
      index++;
    } else if (segment.kind === 'pattern') {
      const match = value === undefined ? null : segment.regex.exec(value);
      if (!match) {
        return undefined;
      }
      segment.names.forEach((name, i) => (params[name] = match[i + 1]));
      index++;
    } else if (segment.catchAll) {
      if (index < pathSegments.length) {
        params[segment.name] = pathSegments.slice(index).join('/');
      }
      index = pathSegments.length;
    } else if (value === undefined) {
      if (!segment.optional) {
        return undefined;
      }
    } else {
      if (segment.intOnly && !/^-?\d+$/.test(value)) {
        return undefined;
      }
      params[segment.name] = value;
      index++;
    }
  }
  return index === pathSegments.length ? params : undefined;
}
