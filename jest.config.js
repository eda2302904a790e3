/** Jest runs the TypeScript sources directly; child-process tests use the build in dist/. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  // The Functions worker provides this module; locally the embedded runtime's stand-in does.
  moduleNameMapper: {
    '^@azure/functions-core$': '<rootDir>/src/local/functionsCore.ts',
  },
  setupFilesAfterEnv: ['<rootDir>/test/support/perFileTeardown.ts'],
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  testTimeout: 120000,
  maxWorkers: 2,
};
