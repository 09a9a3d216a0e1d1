import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';

/** Repository root (this file lives in lib/infra). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Name of the metrics namespace every function emits EMF metrics into. */
export const METRICS_NAMESPACE = 'DeepAgent';

/** Props of {@link AgentNodeFunction}. */
export interface AgentNodeFunctionProps {
  /** Entry file relative to the repository root, e.g. `lambdas/api.ts`. */
  readonly entry: string;
  /** `POWERTOOLS_SERVICE_NAME` of the function. */
  readonly serviceName: string;
  /** One-line description shown in the console. */
  readonly description: string;
  /** Invocation timeout. */
  readonly timeout: Duration;
  /**
   * Memory in MB.
   * @default 512
   */
  readonly memorySize?: number;
  /** CloudWatch Logs retention of the function's own log group. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Extra environment (ARNs and names only; never secret values).
   * @default {}
   */
  readonly environment?: Record<string, string>;
  /**
   * Durable execution settings (only the agent function).
   * @default - not durable
   */
  readonly durableConfig?: lambda.DurableConfig;
  /** Further NodejsFunction props (e.g. reserved concurrency). */
  readonly extra?: Partial<NodejsFunctionProps>;
}

/**
 * A `nodejs24.x` ARM64 function bundled locally by esbuild (no Docker) as minified ESM with source maps,
 * with its own log group and the Powertools environment.
 *
 * The AWS SDK is bundled rather than taken from the runtime: the dispatcher and agent need the durable
 * execution APIs of the pinned `@aws-sdk/client-lambda`, which the runtime's copy may predate.
 */
export class AgentNodeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AgentNodeFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention });
    super(scope, id, {
      entry: `${REPO_ROOT}${props.entry}`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 512,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      durableConfig: props.durableConfig,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: [],
        mainFields: ['module', 'main'],
        // ESM output still meets CommonJS dependencies that call require(); give them one.
        banner: "import { createRequire as __deepAgentCreateRequire } from 'node:module'; const require = __deepAgentCreateRequire(import.meta.url);",
      },
      ...props.extra,
    });
  }
}

/** Maps a validated day count onto the CDK enum (values were checked against CloudWatch's list). */
export function toRetentionDays(days: number): logs.RetentionDays {
  return days as logs.RetentionDays;
}
