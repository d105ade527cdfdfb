// The prod stack (Pulumi.prod.yaml) through the real program under mocks; see stack-checks.ts.
import { describeStack } from './stack-checks';

describeStack('prod');
