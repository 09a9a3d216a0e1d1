/**
 * `mcp login` as a library call: connect to the server with an interactive provider, let the SDK discover,
 * register and build the authorization URL, wait for the browser, exchange the code, and prove the login by
 * listing the server's tools. Bounded: at most two authorizations per login (a server that keeps asking for
 * more scope after that will not be satisfied by a third).
 */
import { DeepAgentError, toErrorInfo } from '../../errors/index.js';
import { Redactor } from '../../secrets/index.js';
import type { HttpServerSpec } from '../config.js';
import { loopbackRedirectUrl, portTaken } from './loopback.js';
import { isLoginRequired, StoredOAuthProvider, type InteractiveAuthorizer } from './provider.js';
import type { OAuthRecords } from './store.js';

/** Authorizations one login may open before it gives up. */
export const MAX_AUTHORIZATIONS_PER_LOGIN = 2;

export interface LoginOptions {
  server: string;
  spec: HttpServerSpec;
  records: OAuthRecords;
  authorizer: InteractiveAuthorizer;
  redactor?: Redactor;
  /** @default 30_000 */
  timeoutMs?: number;
  clientInfo?: { name: string; version: string };
}

export interface LoginResult {
  /** False when the server let us in without a login. */
  loggedIn: boolean;
  /** Scopes the token response granted (space-separated), when it said. */
  scopes?: string;
  toolCount: number;
}

/**
 * Logs in to one HTTP MCP server and stores the tokens encrypted. Throws a one-line `DeepAgentError` when
 * it cannot.
 *
 * @example
 * const r = await loginMcpServer({ server: 'notion', spec, records, authorizer: loopbackAuthorizer({ write }) });
 * console.log(`notion: connected, scopes granted: ${r.scopes ?? 'none named'}`);
 */
export async function loginMcpServer(options: LoginOptions): Promise<LoginResult> {
  const { server, spec, records } = options;
  const redactor = options.redactor ?? new Redactor();
  const previous = records.get(server, spec.url);
  let redirectUrl = previous?.redirectUrl;
  if (spec.oauth?.callbackPort) redirectUrl = await loopbackRedirectUrl(spec.oauth.callbackPort);
  else if (!redirectUrl || (await portTaken(redirectUrl))) redirectUrl = await loopbackRedirectUrl();
  // A login starts afresh; a dynamic registration made for another redirect URI is of no use any more.
  const keepClient = previous?.clientInformation && previous.redirectUrl === redirectUrl;
  records.put(server, {
    serverUrl: spec.url,
    redirectUrl,
    ...(keepClient ? { clientInformation: previous!.clientInformation } : {}),
    ...(previous?.discoveryState ? { discoveryState: previous.discoveryState } : {}),
  });

  let authorizations = 0;
  const bounded: InteractiveAuthorizer = (url, redirect, state) => {
    authorizations += 1;
    if (authorizations > MAX_AUTHORIZATIONS_PER_LOGIN) {
      return Promise.reject(new DeepAgentError('unauthorized', `${server} still refuses after ${MAX_AUTHORIZATIONS_PER_LOGIN} authorizations (it asks for scope "${url.searchParams.get('scope') ?? ''}"); check the account's permissions`));
    }
    return options.authorizer(url, redirect, state);
  };
  // Loaded here, not at the top: importing lib/mcp must not load the MCP client (see connection.ts).
  const [{ Client }, { UnauthorizedError }, { SSEClientTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/auth.js'),
    import('@modelcontextprotocol/sdk/client/sse.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]);
  const provider = new StoredOAuthProvider({ server, serverUrl: spec.url, records, settings: spec.oauth ?? {}, redirectUrl, authorizer: bounded, redactor });
  const timeout = options.timeoutMs ?? 30_000;

  for (;;) {
    const transport =
      spec.transport === 'sse'
        ? new SSEClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers }, authProvider: provider })
        : new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers }, authProvider: provider });
    const client = new Client(options.clientInfo ?? { name: 'deep-agent', version: '0.1.0' });
    try {
      await client.connect(transport, { timeout });
      let toolCount = 0;
      if (client.getServerCapabilities()?.tools) {
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
          toolCount += page.tools.length;
          cursor = page.nextCursor;
        } while (cursor);
      }
      const scopes = provider.grantedScopes();
      return { loggedIn: authorizations > 0 || provider.tokens() !== undefined, ...(scopes ? { scopes } : {}), toolCount };
    } catch (err) {
      if (!(err instanceof UnauthorizedError) || isLoginRequired(err)) throw describeLoginError(server, err, redactor);
      // The SDK opened an authorization (through `bounded`); finish it, then connect again.
      try {
        const code = await provider.takeAuthorizationCode();
        await transport.finishAuth(code);
      } catch (finishErr) {
        throw describeLoginError(server, finishErr, redactor);
      }
    } finally {
      await client.close().catch(() => {});
    }
  }
}

function describeLoginError(server: string, err: unknown, redactor: Redactor): DeepAgentError {
  const info = toErrorInfo(err);
  const message = redactor.redactString(info.message.split('\n')[0]!.slice(0, 500));
  return new DeepAgentError(info.code === 'unavailable' || info.code === 'unauthorized' ? info.code : 'mcp_error', `login to ${server} failed: ${message}`);
}
