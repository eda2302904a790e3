/**
 * Anonymization configurations as a de-identified export reads them: blobs of the `anonymization`
 * container of the test storage account (shared by every app of a run, so each test names its own).
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { testConnectionInfo, uniqueName } from './testEnv';

export const ANONYMIZATION_CONTAINER = 'anonymization';

function container() {
  return BlobServiceClient.fromConnectionString(
    testConnectionInfo().storageConnectionString,
  ).getContainerClient(ANONYMIZATION_CONTAINER);
}

/** Uploads `content` (an object is written as JSON) as a new configuration blob; its name and etag. */
export async function uploadConfig(
  content: string | Buffer | object,
  name = `${uniqueName('config')}.json`,
): Promise<{ name: string; etag: string }> {
  const data = typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content);
  const configs = container();
  await configs.createIfNotExists();
  const { etag } = await configs.getBlockBlobClient(name).upload(data, Buffer.byteLength(data));
  return { name, etag: etag as string };
}

/** A small valid configuration: names redacted, ids hashed, dates shifted. */
export const SMALL_CONFIG = {
  fhirVersion: 'R4',
  processingErrors: 'raise',
  fhirPathRules: [
    { path: 'Resource.id', method: 'cryptoHash' },
    { path: "nodesByType('Reference').reference", method: 'cryptoHash' },
    { path: 'Patient.name', method: 'redact' },
    { path: "nodesByType('date')", method: 'dateShift' },
    { path: "nodesByType('dateTime')", method: 'dateShift' },
  ],
  parameters: { enablePartialDatesForRedact: true },
};
