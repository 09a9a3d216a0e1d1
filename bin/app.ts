#!/usr/bin/env node
/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Settings come from context `deep-agent:<name>` (cdk.json or -c). */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { hasCode } from '../lib/errors/index.js';
import { DeepAgentStack, configFromContext } from '../lib/infra/index.js';

const app = new App();
try {
  new DeepAgentStack(app, app.node.tryGetContext('deep-agent:stackName') ?? 'DeepAgent', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    config: configFromContext((key) => app.node.tryGetContext(key)),
  });
} catch (e) {
  if (!hasCode(e, 'invalid_input')) throw e;
  console.error((e as Error).message);
  process.exit(1);
}
// cdk-nag 3 is a CDK policy-validation plugin (its v2 Aspect form is gone); findings fail `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
