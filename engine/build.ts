/** `npm run build:engine`: builds the real-engine host (after `npm run build`). */
import { buildEngineHost, DOTNET_MISSING, dotnetSdkAvailable } from './launch';

if (!dotnetSdkAvailable()) {
  console.error(DOTNET_MISSING);
  process.exit(1);
}
try {
  buildEngineHost();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
