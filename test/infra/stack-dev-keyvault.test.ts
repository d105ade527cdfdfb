// The dev stack with its certificate in Key Vault (tlsMode keyvault) through the real program under
// mocks; see stack-checks.ts and https-checks.ts.
import { describeStack } from './stack-checks';
import { KEYVAULT_OVERRIDES } from './tls-variants';

describeStack('dev', KEYVAULT_OVERRIDES);
