// Placeholder so the CDK stack can synth; the Lambda handlers engineer replaces this file.
export const handler = async (): Promise<never> => { throw new Error('lambdas/api.ts is a placeholder'); };
