/**
 * Jest runs the TypeScript sources directly; child-process tests use the build in dist/.
 *
 * Two projects: `embedded` runs every test with app processes on the embedded durable runtime;
 * `engine` runs the end-to-end suite and the real-engine tests again with app processes on the real
 * Durable Task extension (engine/host). `npx jest --selectProjects embedded` runs one of them.
 */
const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // The Functions worker provides this module; locally the embedded runtime's stand-in does.
  moduleNameMapper: {
    '^@azure/functions-core$': '<rootDir>/dev/runtime/functionsCore.ts',
  },
  setupFilesAfterEnv: ['<rootDir>/test/support/perFileTeardown.ts'],
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'embedded',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/engine/'],
    },
    {
      ...shared,
      displayName: 'engine',
      testMatch: [
        '<rootDir>/test/e2e/**/*.test.ts',
        '<rootDir>/test/engine/**/*.test.ts',
        '<rootDir>/test/conformance/**/*.test.ts',
        '<rootDir>/test/security/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/'],
      setupFilesAfterEnv: [...shared.setupFilesAfterEnv, '<rootDir>/test/support/engineProject.ts'],
    },
  ],
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  testTimeout: 120000,
  maxWorkers: 2,
};
