/**
 * What the launcher needs of a command's egress (mount point, port, environment, forwarder), kept apart from the
 * proxy itself: the proxy loads the sandbox-runtime and node-forge, which only a local command with a network
 * list needs, so nothing that only runs E2B sandboxes (the agent Lambda) carries them.
 */

/** Where the proxy's socket directory is mounted inside the sandbox, and the port the forwarder listens on. */
export const EGRESS_SOCKET_DIR = '/run/deep-agent-egress';
export const EGRESS_PROXY_PORT = 3128;

/**
 * Fixed names for this proxy's resolution (name -> address), consulted before DNS: the test seam that lets a
 * local HTTPS server stand for a listed host. The address is still judged: a loopback one must be listed too.
 */
export type HostOverrides = Record<string, string>;

/**
 * A credential the sandbox can use but never read: inside, the variable holds `sentinel`; the proxy puts
 * `value` in its place only on requests to `hosts`, over TLS it terminates and re-encrypts to the real host.
 */
export interface MaskedCredential {
  name: string;
  sentinel: string;
  value: string;
  hosts: readonly string[];
}

/**
 * What a proxy lets through: host patterns (already bounded by the task), or any public host (`network: true`
 * with no task allowlist), where names are judged by what they resolve to and address literals by themselves.
 */
export type EgressAllow = readonly string[] | 'any-public-host';

/** File names, in the socket directory, of the interception CA and of the CA plus this host's roots. */
export const EGRESS_CA_FILE = 'ca.pem';
export const EGRESS_TRUST_BUNDLE_FILE = 'trust-bundle.pem';

/** The environment that points a command's HTTP clients at the forwarder (curl, pip, npm, git, Node with NODE_USE_ENV_PROXY). */
export function egressProxyEnv(): Record<string, string> {
  const url = `http://127.0.0.1:${EGRESS_PROXY_PORT}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
    NO_PROXY: '',
    no_proxy: '',
    NODE_USE_ENV_PROXY: '1',
  };
}

/**
 * The environment that makes a command's TLS clients trust the interception CA: Node adds it to its roots;
 * the others (OpenSSL, curl, Python requests, git, pip) replace their roots, so they get the CA plus this
 * host's roots. The system bundle path is covered by a bind mount (see the bubblewrap launcher).
 */
export function egressTrustEnv(): Record<string, string> {
  const bundle = `${EGRESS_SOCKET_DIR}/${EGRESS_TRUST_BUNDLE_FILE}`;
  return {
    NODE_EXTRA_CA_CERTS: `${EGRESS_SOCKET_DIR}/${EGRESS_CA_FILE}`,
    SSL_CERT_FILE: bundle,
    CURL_CA_BUNDLE: bundle,
    REQUESTS_CA_BUNDLE: bundle,
    GIT_SSL_CAINFO: bundle,
    PIP_CERT: bundle,
  };
}

/**
 * Runs inside the sandbox before the command: socat bridges 127.0.0.1:3128 to the proxy's socket, the shell
 * waits until it listens (0C38 is 3128 in /proc/net/tcp), then becomes the command. The forwarder dies with
 * the sandbox's PID namespace when the command ends.
 */
export function egressForwarderArgv(argv: string[]): string[] {
  const script =
    `socat TCP-LISTEN:${EGRESS_PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${EGRESS_SOCKET_DIR}/proxy.sock >/dev/null 2>&1 & ` +
    'i=0; while ! grep -q ":0C38 00000000:0000 0A" /proc/net/tcp 2>/dev/null && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done; exec "$@"';
  return ['/bin/sh', '-c', script, 'sh', ...argv];
}

/** The proxy of one command, as the sandbox holds it (the class lives with the heavy pieces in egress-proxy.ts). */
export interface EgressProxy {
  readonly socketDir: string;
  readonly intercepts: boolean;
  close(): Promise<void>;
}
