import { SUPPORTED_PARAMETERS } from '../../../src/export/capabilityStatement';
import { KNOWN_PARAMETERS } from '../../../src/export/kickoffRequest';

describe('the CapabilityStatement parameter list', () => {
  it('documents every kick-off parameter the server acts on, and none it refuses', () => {
    // includeAssociatedData is known only to be refused (or ignored under lenient handling).
    const acted = [...KNOWN_PARAMETERS].filter((name) => name !== 'includeAssociatedData').sort();
    expect(SUPPORTED_PARAMETERS.map((p) => p.name).sort()).toEqual(acted);
  });
});
