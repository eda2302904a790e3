// Placeholder: replaced by the emulator shutdown.
export default async function globalTeardown(): Promise<void> {}
