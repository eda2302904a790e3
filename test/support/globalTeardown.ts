/** Stops the emulators that globalSetup started (same process, so the handle is on globalThis). */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as { __testEmulators?: { stop(): Promise<void> } };
  await holder.__testEmulators?.stop();
  holder.__testEmulators = undefined;
}
