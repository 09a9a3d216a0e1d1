/**
 * The API function's logic: the one HTTP app (lib/http) on the AWS task service (`DurableTaskService`). The
 * account id comes from the Lambda authorizer's context, never from the request.
 */
import { handle } from 'hono/aws-lambda';
import { createHttpApp } from '../http/index.js';
import type { McpConnectionBackend } from '../task/index.js';
import { accountIdFromRequestContext } from './authorizer.js';
import { DurableTaskService, type DurableTaskServiceDeps } from './task-service.js';

/** What `hono/aws-lambda` passes the app as `c.env`. */
interface LambdaBindings {
  event?: { requestContext?: unknown };
}

/**
 * The account id an API Gateway event was authorized for (`requestContext.authorizer.lambda.accountId`).
 *
 * @example
 * createHttpApp({ service, authenticate: (_request, env) => accountIdFromLambdaBindings(env) });
 */
export function accountIdFromLambdaBindings(env: unknown): string | undefined {
  return accountIdFromRequestContext((env as LambdaBindings | undefined)?.event?.requestContext);
}

export interface ApiHandlerDeps extends DurableTaskServiceDeps {
  /** The MCP connection manager (AwsMcpConnections); its routes answer 501 without it. */
  mcpConnections?: McpConnectionBackend;
  /** Called with errors that become a 5xx (log them). */
  onError?(error: unknown): void;
}

/**
 * The API Gateway handler (HTTP API payload v2, REST payload v1 too): the HTTP app through `hono/aws-lambda`.
 *
 * @example
 * export const handler = createApiHandler({ store, queue, lambda, agentFunctionName, schedules });
 */
export function createApiHandler(deps: ApiHandlerDeps) {
  const app = createHttpApp({
    service: new DurableTaskService(deps),
    authenticate: (_request, env) => accountIdFromLambdaBindings(env),
    ...(deps.mcpConnections ? { mcpConnections: deps.mcpConnections } : {}),
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
  return handle(app);
}
