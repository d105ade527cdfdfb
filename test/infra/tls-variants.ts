// The TLS configurations the stack tests run besides the committed stack files (which leave tlsMode at
// none): one file per program run, so these are shared values rather than imports of another test.
export const KEYVAULT_OVERRIDES = {
  'model-deploy:tlsMode': 'keyvault',
  'model-deploy:tlsKeyVaultId': '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-certs/providers/Microsoft.KeyVault/vaults/kv-mdeploy-certs',
  'model-deploy:tlsKeyVaultCertificateName': 'scoring-dev',
  'model-deploy:hstsMaxAgeSeconds': 86400,
};

export const LETSENCRYPT_OVERRIDES = {
  'model-deploy:tlsMode': 'letsencrypt',
  'model-deploy:tlsAcmeEmail': 'ml-platform@example.com',
  'model-deploy:customDomain': 'scoring.example.com',
};
