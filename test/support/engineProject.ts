/** Setup of the jest project `engine`: every app process of its tests runs on the real engine. */
import { TEST_RUNTIME_VARIABLE } from './testRuntime';

process.env[TEST_RUNTIME_VARIABLE] = 'engine';
// Taking over a killed host's work takes a minute or more on the real engine, by design.
jest.setTimeout(600_000);
