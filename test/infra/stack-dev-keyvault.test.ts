// The dev stack with its certificate in Key Vault (tlsMode keyvault) through the real program under
// mocks; see stack-checks.ts and https-checks.ts.
import { describeStack } from './stack-checks';

export const KEYVAULT_OVERRIDES = {
  'model-deploy:tlsMode': 'keyvault',
  'model-deploy:tlsKeyVaultId': '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-certs/providers/Microsoft.KeyVault/vaults/kv-mdeploy-certs',
  'model-deploy:tlsKeyVaultCertificateName': 'scoring-dev',
  'model-deploy:hstsMaxAgeSeconds': 86400,
};

describeStack('dev', KEYVAULT_OVERRIDES);
