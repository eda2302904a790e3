import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.local/', 'infra/**/*.json', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // What is deployed (functions/, src/) never depends on what is not: the embedded runtime, the demo
    // data, the clients, the real-engine host, the benchmark, the scripts and the tests.
    files: ['src/**/*.ts', 'functions/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(dev|engine|bench|scripts|test)(/|$)',
              message: 'functions/ and src/ are deployed; dev/, engine/, bench/, scripts/ and test/ are not.',
            },
          ],
        },
      ],
    },
  },
);
