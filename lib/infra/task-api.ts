import { Duration } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const { GET, POST, DELETE, ANY } = apigw.HttpMethod;

/** The DESIGN section 3 routes; each is its own authorized route so metrics and logs name it. */
export const API_ROUTES: ReadonlyArray<{ path: string; methods: apigw.HttpMethod[] }> = [
  { path: '/tasks', methods: [GET, POST] },
  { path: '/tasks/{id}', methods: [GET] },
  { path: '/tasks/{id}/events', methods: [GET] },
  { path: '/tasks/{id}/cancel', methods: [POST] },
  { path: '/tasks/{id}/approvals/{approvalId}', methods: [POST] },
  { path: '/schedules', methods: [GET, POST] },
  { path: '/schedules/{id}', methods: [GET, DELETE] },
  { path: '/mcp-server-definitions', methods: [GET] },
  { path: '/mcp-connections', methods: [GET] },
  { path: '/mcp-connections/install', methods: [POST] },
  { path: '/mcp-connections/{id}', methods: [DELETE] },
  { path: '/mcp-connections/{id}/oauth/start', methods: [POST] },
  { path: '/mcp-connections/{id}/oauth', methods: [DELETE] },
  // Anything else still reaches the app (authorized), so unknown paths get its JSON error shape.
  { path: '/{proxy+}', methods: [ANY] },
];

/**
 * The web dashboard's static files, served by the same API function without the authorizer: a browser loads
 * them before the user has signed in, and they hold no data (every API call the page makes sends the token).
 */
export const DASHBOARD_ROUTES: ReadonlyArray<{ path: string; methods: apigw.HttpMethod[] }> = [
  { path: '/', methods: [GET] },
  { path: '/dashboard/{file}', methods: [GET] },
  { path: '/favicon.ico', methods: [GET] },
];

/**
 * The OAuth callback of remote MCP connections, without the authorizer: the authorization server redirects the
 * person's browser here, and a browser redirect carries no bearer token. The app trusts only the `state` of a
 * login the account started behind the authorizer (single use, bound to the account and the connection, 10 minutes).
 */
export const OAUTH_CALLBACK_ROUTE = { path: '/oauth/callback', methods: [GET] } as const;

/** Props of {@link TaskApi}. */
export interface TaskApiProps {
  /** The function running the one Hono app (proxy integration, payload format 2.0). */
  readonly handler: lambda.IFunction;
  /** The Lambda REQUEST authorizer (simple responses: `{ isAuthorized, context: { accountId } }`). */
  readonly authorizer: lambda.IFunction;
  /** Retention of the access log. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Steady-state requests per second of the stage.
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * Burst of the stage.
   * @default 100
   */
  readonly burstLimit?: number;
}

/**
 * The public HTTP API.
 *
 * An HTTP API (API Gateway v2), not a REST API: it has Lambda REQUEST authorizers with simple
 * `{ isAuthorized, context }` responses and result caching, costs about 70% less per request, adds less
 * latency, and the Hono app speaks its payload format 2.0 natively; the REST-only extras (request models,
 * usage plans, WAF association) are not used, since the app validates bodies with zod.
 *
 * The API function reads the caller's account id from `event.requestContext.authorizer.lambda.accountId`.
 *
 * @example
 * const api = new TaskApi(this, 'Api', { handler: apiFn, authorizer: authFn, logRetention: logs.RetentionDays.ONE_MONTH });
 */
export class TaskApi extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  /** The unauthenticated routes of the dashboard's static files ({@link DASHBOARD_ROUTES}). */
  readonly dashboardRoutes: apigw.HttpRoute[];
  /** The unauthenticated OAuth callback route ({@link OAUTH_CALLBACK_ROUTE}). */
  readonly oauthCallbackRoutes: apigw.HttpRoute[];

  constructor(scope: Construct, id: string, props: TaskApiProps) {
    super(scope, id);
    const authorizer = new HttpLambdaAuthorizer('BearerToken', props.authorizer, {
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.minutes(5),
    });
    this.httpApi = new apigw.HttpApi(this, 'HttpApi', {
      description: 'deep-agent task API',
      createDefaultStage: false,
      defaultAuthorizer: authorizer,
    });
    const integration = new HttpLambdaIntegration('App', props.handler, {
      payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
    });
    for (const route of API_ROUTES) {
      this.httpApi.addRoutes({ path: route.path, methods: route.methods, integration, authorizer });
    }
    const none = new apigw.HttpNoneAuthorizer();
    this.dashboardRoutes = DASHBOARD_ROUTES.flatMap((route) => this.httpApi.addRoutes({ path: route.path, methods: route.methods, integration, authorizer: none }));
    this.oauthCallbackRoutes = this.httpApi.addRoutes({ path: OAUTH_CALLBACK_ROUTE.path, methods: [...OAUTH_CALLBACK_ROUTE.methods], integration, authorizer: none });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit ?? 50, burstLimit: props.burstLimit ?? 100 },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(this.accessLogs) },
    });
  }

  /** The invoke URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/`. */
  get url(): string {
    return this.stage.url;
  }
}
