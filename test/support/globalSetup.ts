// Placeholder: replaced by the emulator start-up (Azurite + Cosmos DB emulator).
export default async function globalSetup(): Promise<void> {}
