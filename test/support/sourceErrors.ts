import { SourceError } from '../../src/export/errors';

/** The `SourceError` that `promise` rejects with (fails the test when it resolves or throws another). */
export async function sourceErrorOf(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}
