/**
 * No import circles, type-only imports included. The lint rule `import-x/no-cycle` sees runtime
 * imports only; a circle through `import type` still ties two modules together and hides which of
 * them owns the type, so this test walks every import the TypeScript preprocessor finds.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FOLDERS = ['src', 'functions', 'dev', 'engine', 'bench', 'scripts'];

function sourceFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder)) {
    const full = path.join(folder, entry);
    if (statSync(full).isDirectory()) {
      if (entry !== 'node_modules' && entry !== 'bin' && entry !== 'obj') found.push(...sourceFiles(full));
    } else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) {
      found.push(full);
    }
  }
  return found;
}

function resolveRelative(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  return [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

/** The import graph: file → the project files it imports (relative specifiers only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of FOLDERS) {
    const dir = path.join(ROOT, folder);
    if (!existsSync(dir)) continue;
    for (const file of sourceFiles(dir)) {
      const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
      graph.set(
        file,
        importedFiles
          .map((imported) => imported.fileName)
          .filter((specifier) => specifier.startsWith('.'))
          .map((specifier) => resolveRelative(file, specifier))
          .filter((target): target is string => target !== undefined),
      );
    }
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan), as repository-relative paths. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(path.relative(ROOT, member));
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('the import graph', () => {
  it('reads the imports of the project (a sanity check of the walk)', () => {
    const graph = importGraph();
    expect(graph.get(path.join(ROOT, 'src', 'config.ts'))).toContain(
      path.join(ROOT, 'src', 'destination', 'containerName.ts'),
    );
  });

  it('has no circles, counting type-only imports', () => {
    expect(circles(importGraph())).toEqual([]);
  });
});
