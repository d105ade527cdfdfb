// The dev stack with a Key Vault certificate as a pull request previews it (Reader role): the HTTPS
// ingress (role assignments on the vault, custom resources, the add-on identity unknown until the
// cluster exists) adds no invoke that Reader may not call; see preview-checks.ts.
import { describePreview } from './preview-checks';
import { KEYVAULT_OVERRIDES } from './tls-variants';

describePreview('dev', KEYVAULT_OVERRIDES);
