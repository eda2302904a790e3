/** HTTP triggers of an app without HTTP streams: requests and responses travel over RPC. */
import { describeHttpHost } from './httpHostSuite';

describeHttpHost('httpApp', () => undefined);
