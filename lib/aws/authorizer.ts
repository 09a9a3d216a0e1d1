/**
 * The API's Lambda REQUEST authorizer: `Authorization: Bearer <token>` is looked up by its sha256 in the
 * tokens secret (`{ "tokens": { "<sha256 hex>": "<accountId>" } }`, cached), deny by default. The account id
 * goes into the authorizer context, which is where the API takes it from (never from the body).
 *
 * lib/infra uses an HTTP API with simple responses; a REST API event (with `methodArn`) gets an IAM policy.
 */
import { createHash } from 'node:crypto';
import type { SecretCache } from './secrets.js';

export interface AuthorizerEvent {
  type?: string;
  /** REST API REQUEST authorizers */
  methodArn?: string;
  /** HTTP API (payload 2.0) */
  routeArn?: string;
  headers?: Record<string, string | undefined> | null;
  identitySource?: string[] | string | null;
}

export interface SimpleAuthorizerResponse {
  isAuthorized: boolean;
  context?: { accountId: string };
}

export interface PolicyAuthorizerResponse {
  principalId: string;
  policyDocument: { Version: '2012-10-17'; Statement: { Action: 'execute-api:Invoke'; Effect: 'Allow' | 'Deny'; Resource: string }[] };
  context?: { accountId: string };
}

export const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex');

function bearerToken(event: AuthorizerEvent): string | undefined {
  const headers = event.headers ?? {};
  const header = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
  const raw = header ?? (Array.isArray(event.identitySource) ? event.identitySource[0] : (event.identitySource ?? undefined));
  const m = /^Bearer\s+(\S{8,512})\s*$/i.exec(raw ?? '');
  return m?.[1];
}

/**
 * The account of a token, or undefined. Reads the tokens secret through the cache.
 *
 * @example
 * const accountId = await accountForToken(token, { cache, secretArn });
 */
export async function accountForToken(token: string, deps: { cache: SecretCache; secretArn: string }): Promise<string | undefined> {
  const secret = await deps.cache.get(deps.secretArn);
  const tokens = secret.tokens;
  if (!tokens || typeof tokens !== 'object') return undefined;
  const account = (tokens as Record<string, unknown>)[sha256Hex(token)];
  return typeof account === 'string' && account.length > 0 ? account : undefined;
}

/**
 * Authorizes one request. Any failure (no header, unknown token, unreadable secret) denies.
 *
 * @example
 * export const handler = (event: AuthorizerEvent) => authorize(event, { cache, secretArn: aws.apiTokensSecretArn });
 */
export async function authorize(
  event: AuthorizerEvent,
  deps: { cache: SecretCache; secretArn: string; onError?(e: unknown): void },
): Promise<SimpleAuthorizerResponse | PolicyAuthorizerResponse> {
  let accountId: string | undefined;
  const token = bearerToken(event);
  if (token) {
    try {
      accountId = await accountForToken(token, deps);
    } catch (e) {
      deps.onError?.(e);
    }
  }
  if (event.methodArn) {
    // REST: throwing "Unauthorized" is how a REST authorizer answers 401.
    if (!accountId) throw new Error('Unauthorized');
    const [arnPrefix, stage] = event.methodArn.split('/');
    return {
      principalId: accountId,
      policyDocument: {
        Version: '2012-10-17',
        // The whole stage, so a cached policy also covers the caller's other routes.
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${arnPrefix}/${stage}/*` }],
      },
      context: { accountId },
    };
  }
  return accountId ? { isAuthorized: true, context: { accountId } } : { isAuthorized: false };
}

/**
 * The caller's account id from an API Gateway proxy event (HTTP API `authorizer.lambda`, or REST `authorizer`).
 *
 * @example
 * const accountId = accountIdFromRequestContext(event.requestContext); // 'acct-1' | undefined
 */
export function accountIdFromRequestContext(requestContext: unknown): string | undefined {
  const auth = (requestContext as { authorizer?: { lambda?: { accountId?: unknown }; accountId?: unknown } } | undefined)?.authorizer;
  const v = auth?.lambda?.accountId ?? auth?.accountId;
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
