/**
 * The host side of a local command's egress allowlist: an HTTP(S) proxy (CONNECT and plain forwarding) on a
 * unix socket that only this user can reach, built from `@anthropic-ai/sandbox-runtime`'s proxy pieces. The
 * command runs in a network namespace of its own (loopback only); its one way out is this socket, bridged to
 * `127.0.0.1:3128` inside by a forwarder (see `EGRESS_FORWARDER`). The proxy decides by host and port,
 * resolves names itself, and refuses names that resolve to loopback, link-local, cloud metadata, private
 * ranges or this host's own addresses unless the address is listed literally.
 */
import { lookup, type LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpProxyServer } from '@anthropic-ai/sandbox-runtime/dist/sandbox/http-proxy.js';
import { createResolvedAddressGuard, type Resolver } from '@anthropic-ai/sandbox-runtime/dist/sandbox/resolved-address-guard.js';
import { allowsHost } from '../shared/index.js';

/** Where the proxy's socket directory is mounted inside the sandbox, and the port the forwarder listens on. */
export const EGRESS_SOCKET_DIR = '/run/deep-agent-egress';
export const EGRESS_PROXY_PORT = 3128;

/**
 * Fixed names for this proxy's resolution (name -> address), consulted before DNS: the test seam that lets a
 * local HTTPS server stand for a listed host. An overridden address counts as listed literally.
 */
export type HostOverrides = Record<string, string>;

export interface EgressProxyOptions {
  /** Host patterns this command may reach (already bounded by its task). */
  allow: readonly string[];
  hostOverrides?: HostOverrides;
}

/**
 * One proxy, for one command (or one long-lived process) and its allowlist. `open` binds the socket before it
 * returns, so a synchronous caller (`wrapSpawn`) can hand the socket to a sandbox at once.
 *
 * @example
 * const proxy = EgressProxy.open({ allow: ['pkg.example.org'] });
 * // bwrap ... --bind proxy.socketDir /run/deep-agent-egress ...
 * await proxy.close();
 */
export class EgressProxy {
  private closed = false;

  private constructor(
    private readonly server: Server,
    /** Host directory holding the socket (mode 0700), mounted into the sandbox. */
    readonly socketDir: string,
  ) {}

  static open(options: EgressProxyOptions): EgressProxy {
    const allow = [...options.allow];
    const overrides = options.hostOverrides ?? {};
    const resolve: Resolver | undefined = Object.keys(overrides).length
      ? (hostname, opts, callback) => {
          const fixed = overrides[hostname.toLowerCase()];
          if (!fixed) return defaultLookup(hostname, opts, callback);
          const family = fixed.includes(':') ? 6 : 4;
          const answer: LookupAddress[] = [{ address: fixed, family }];
          callback(null, answer);
        }
      : undefined;
    const guard = createResolvedAddressGuard({
      allowedDomains: [...allow, ...Object.values(overrides)],
      ...(resolve ? { resolve } : {}),
    });
    const server = createHttpProxyServer({
      filter: (port, host) => allow.some((pattern) => allowsHost(pattern, host, port)),
      lookupFor: (port) => guard.lookupFor(port),
    });
    const socketDir = mkdtempSync(join(tmpdir(), 'deep-agent-egress-'));
    // A pipe is bound synchronously by listen(); the socket file exists when this returns.
    server.listen(join(socketDir, 'proxy.sock'));
    server.unref();
    return new EgressProxy(server, socketDir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketDir, { recursive: true, force: true });
  }
}

const defaultLookup: Resolver = (hostname, opts, callback) => lookup(hostname, { ...opts, all: true }, callback);

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
