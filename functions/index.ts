/**
 * The Functions app: importing this module registers every trigger. Azure's worker loads it from
 * package.json `main`; the local runtime (src/local) loads the same module.
 */
import './durable/activities';
import './durable/orchestrators';
import './http/kickoff';
import './http/jobStatus';
import './http/metadata';
import './http/notFound';
