// Cached SDK clients keep sockets and timers alive; close them so each test file's worker can exit.
import { disposeCosmosClients } from '../../src/jobs/cosmosClient';

afterAll(() => {
  disposeCosmosClients();
});
