import { SUPPORTED_PARAMETERS } from '../../../src/export/capabilityStatement';
import { KNOWN_PARAMETERS } from '../../../src/export/kickoffRequest';

describe('the CapabilityStatement parameter list', () => {
  it('documents every kick-off parameter the server acts on, and none it refuses', () => {
    // These are known only to be refused (or ignored under lenient handling).
    const refused = new Set(['includeAssociatedData', '_anonymizationConfigCollectionReference']);
    const acted = [...KNOWN_PARAMETERS].filter((name) => !refused.has(name)).sort();
    expect(SUPPORTED_PARAMETERS.map((p) => p.name).sort()).toEqual(acted);
  });
});
