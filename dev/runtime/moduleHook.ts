import Module from 'node:module';

/**
 * Makes `require('@azure/functions-core')` resolve to the local stand-in in a plain node process
 * (under jest, `moduleNameMapper` does this). Must run before the app (and `@azure/functions`) is required,
 * because `@azure/functions` caches the outcome of its first attempt.
 */
type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;

const hookedKey = Symbol.for('durable-fhir-export.local.functionsCoreHook');

export function installFunctionsCoreHook(): void {
  const moduleInternals = Module as unknown as { _resolveFilename: ResolveFilename } & Record<
    symbol,
    boolean
  >;
  if (moduleInternals[hookedKey]) {
    return;
  }
  const standIn = require.resolve('./functionsCore');
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (request, parent, isMain, options) {
    if (request === '@azure/functions-core') {
      return standIn;
    }
    return original.call(this, request, parent, isMain, options);
  };
  moduleInternals[hookedKey] = true;
}
