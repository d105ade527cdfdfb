// The dev stack (Pulumi.dev.yaml) through the real program under mocks; see stack-checks.ts.
import { describeStack } from './stack-checks';

describeStack('dev');
