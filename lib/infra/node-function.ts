import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NodejsFunction, OutputFormat, type BundlingOptions, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import type { BuildOptions } from 'esbuild';

/** Repository root (this file lives in lib/infra). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Name of the metrics namespace every function emits EMF metrics into. */
export const METRICS_NAMESPACE = 'DeepAgent';

/**
 * Where a function gets the AWS SDK v3 from:
 * - `bundled`: the pinned copy in package-lock is bundled. Needed where an older runtime copy would silently
 *   change behaviour: an SDK that predates a request member drops it without error (the dispatcher's `Invoke`
 *   with `DurableExecutionName` would then start duplicate runs).
 * - `runtime`: `@aws-sdk/*` and `@smithy/*` stay external and come from the `nodejs24.x` runtime, which also
 *   carries the durable execution SDK and so the checkpoint APIs it calls. Smaller bundle, faster cold start.
 */
export type AwsSdkSource = 'bundled' | 'runtime';

/** Modules the `nodejs24.x` runtime provides: the AWS SDK v3 and its Smithy core (always kept together). */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*'];

/** Runtime target of every function; also the esbuild target. */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;
const ESBUILD_TARGET = 'node24';
// ESM output still meets CommonJS dependencies that call require(); give them one.
const REQUIRE_BANNER = "import { createRequire as __deepAgentCreateRequire } from 'node:module'; const require = __deepAgentCreateRequire(import.meta.url);";

/**
 * The NodejsFunction bundling options of every function (local esbuild, minified ESM with source maps).
 * {@link esbuildOptions} turns the same object into esbuild's own options, so the bundle benchmark builds
 * exactly what `cdk synth` builds.
 *
 * @example
 * new NodejsFunction(this, 'Fn', { entry, bundling: lambdaBundling('runtime') });
 */
export function lambdaBundling(awsSdk: AwsSdkSource): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    target: ESBUILD_TARGET,
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    bundleAwsSDK: awsSdk === 'bundled',
    externalModules: awsSdk === 'bundled' ? [] : [...RUNTIME_PROVIDED_MODULES],
    // ESM builds first: they tree-shake, CommonJS builds do not.
    mainFields: ['module', 'main'],
    banner: REQUIRE_BANNER,
  };
}

/**
 * esbuild build options equal to what NodejsFunction runs for {@link lambdaBundling} (its CLI flags, one for
 * one), writing `outfile`.
 *
 * @example
 * await esbuild.build({ ...esbuildOptions('lambdas/agent.ts', '/tmp/agent/index.mjs', 'runtime'), metafile: true });
 */
export function esbuildOptions(entry: string, outfile: string, awsSdk: AwsSdkSource): BuildOptions {
  const b = lambdaBundling(awsSdk);
  return {
    entryPoints: [entry.startsWith('/') ? entry : `${REPO_ROOT}${entry}`],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    target: b.target,
    format: b.format === OutputFormat.ESM ? 'esm' : 'cjs',
    outfile,
    minify: b.minify,
    sourcemap: b.sourceMap,
    sourcesContent: b.sourcesContent,
    external: [...(b.externalModules ?? [])],
    mainFields: b.mainFields,
    banner: b.banner ? { js: b.banner } : undefined,
  };
}

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
  /**
   * Where the function gets the AWS SDK from (see {@link AwsSdkSource}).
   * @default 'bundled'
   */
  readonly awsSdk?: AwsSdkSource;
  /** Further NodejsFunction props (e.g. reserved concurrency). */
  readonly extra?: Partial<NodejsFunctionProps>;
}

/**
 * A `nodejs24.x` ARM64 function bundled locally by esbuild (no Docker) as minified ESM with source maps,
 * with its own log group, X-Ray active tracing (the Powertools tracer adds a subsegment per invocation and
 * one per AWS SDK call) and the Powertools environment.
 *
 * Each function says where its AWS SDK comes from ({@link AwsSdkSource}); the bundling options are shared
 * with the bundle benchmark through {@link lambdaBundling}.
 */
export class AgentNodeFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AgentNodeFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention });
    super(scope, id, {
      entry: `${REPO_ROOT}${props.entry}`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      runtime: NODE_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 512,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      durableConfig: props.durableConfig,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: lambdaBundling(props.awsSdk ?? 'bundled'),
      ...props.extra,
    });
  }
}

/** Maps a validated day count onto the CDK enum (values were checked against CloudWatch's list). */
export function toRetentionDays(days: number): logs.RetentionDays {
  return days as logs.RetentionDays;
}
