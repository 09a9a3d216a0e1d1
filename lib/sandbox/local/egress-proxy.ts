/**
 * The host side of a local command's egress allowlist: an HTTP(S) proxy (CONNECT and plain forwarding) on a
 * unix socket that only this user can reach, built from `@anthropic-ai/sandbox-runtime`'s proxy pieces. The
 * command runs in a network namespace of its own (loopback only); its one way out is this socket, bridged to
 * `127.0.0.1:3128` inside by a forwarder (see `EGRESS_FORWARDER`). The proxy decides by host and port,
 * resolves names itself, and refuses names that resolve to loopback, link-local, cloud metadata, private
 * ranges or this host's own addresses unless the address is listed literally.
 */
import { lookup, type LookupAddress } from 'node:dns';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpProxyServer } from '@anthropic-ai/sandbox-runtime/dist/sandbox/http-proxy.js';
import { createResolvedAddressGuard, type Resolver } from '@anthropic-ai/sandbox-runtime/dist/sandbox/resolved-address-guard.js';
import { isLoopbackName } from '@anthropic-ai/sandbox-runtime/dist/sandbox/address.js';
import { createMitmCA, disposeMitmCA, type MitmCA } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-ca.js';
import { allowsHost } from '../shared/index.js';
import { EGRESS_CA_FILE, EGRESS_TRUST_BUNDLE_FILE, type EgressAllow, type EgressProxy as EgressProxyHandle, type HostOverrides, type MaskedCredential } from './egress-launch.js';

export { EGRESS_SOCKET_DIR, EGRESS_PROXY_PORT, EGRESS_CA_FILE, EGRESS_TRUST_BUNDLE_FILE, egressProxyEnv, egressTrustEnv, egressForwarderArgv, type HostOverrides, type MaskedCredential, type EgressAllow } from './egress-launch.js';

/**
 * Besides the sandbox-runtime's own denials (loopback, link-local, metadata, multicast, this host's addresses),
 * a name may not resolve into private or shared address space unless that address is listed literally.
 */
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7'];


export interface EgressProxyOptions {
  /** Host patterns this command may reach, or any public host. */
  allow: EgressAllow;
  hostOverrides?: HostOverrides;
  /** Credentials to substitute; with any, `ca` must be given. */
  credentials?: readonly MaskedCredential[];
  /** The sandbox's interception CA (one per sandbox run), trusted inside through the files `open` writes. */
  ca?: MitmCA;
}


/**
 * A new interception CA for one sandbox (RSA-2048, made by the sandbox-runtime with node-forge); dispose it
 * with `disposeInterceptionCa` when the sandbox closes.
 */
export function createInterceptionCa(): MitmCA {
  return createMitmCA({});
}

export function disposeInterceptionCa(ca: MitmCA): Promise<void> {
  return disposeMitmCA(ca);
}

/** The credentials that apply to a request to `host` (by the credential's host patterns, any port). */
function credentialsFor(credentials: readonly MaskedCredential[], host: string): MaskedCredential[] {
  return credentials.filter((c) => c.hosts.some((pattern) => allowsHost(pattern, host, 0) || allowsHost(pattern, host, 443)));
}

/** Puts real values where sentinels are, in every header value and inside `Basic` credentials (git over https). */
function substituteHeaders(headers: IncomingHttpHeaders, credentials: readonly MaskedCredential[]): void {
  const swap = (v: string) => credentials.reduce((out, c) => out.split(c.sentinel).join(c.value), v);
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const one = (v: string) => {
      const basic = /^(basic\s+)([A-Za-z0-9+/=]+)$/i.exec(v);
      if (basic) {
        const decoded = Buffer.from(basic[2]!, 'base64').toString('utf8');
        const swapped = swap(decoded);
        if (swapped !== decoded) return `${basic[1]}${Buffer.from(swapped, 'utf8').toString('base64')}`;
      }
      return swap(v);
    };
    headers[name] = Array.isArray(value) ? value.map(one) : one(value);
  }
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
export class EgressProxy implements EgressProxyHandle {
  private closed = false;

  private constructor(
    private readonly server: Server,
    /** Host directory holding the socket (mode 0700), mounted into the sandbox. */
    readonly socketDir: string,
    /** True when it intercepts TLS for credentials: the sandbox must trust the CA files in `socketDir`. */
    readonly intercepts: boolean,
  ) {}

  static open(options: EgressProxyOptions): EgressProxy {
    const anyPublic = options.allow === 'any-public-host';
    const allow = anyPublic ? [] : [...options.allow];
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
      allowedDomains: allow,
      deniedResolvedAddresses: PRIVATE_RANGES,
      ...(resolve ? { resolve } : {}),
    });
    const credentials = options.credentials ?? [];
    const ca = credentials.length ? options.ca : undefined;
    const server = createHttpProxyServer({
      filter: anyPublic
        ? (port, host) => isPublicDestination(host, port, guard.permits)
        : (port, host) => allow.some((pattern) => allowsHost(pattern, host, port)),
      lookupFor: (port) => guard.lookupFor(port),
      ...(ca
        ? {
            mitmCA: ca,
            // Only a credential's hosts are intercepted; any other CONNECT stays an opaque, end-to-end tunnel.
            shouldTerminateTLS: (host: string) => credentialsFor(credentials, host).length > 0,
            mutateHeaders: (headers: IncomingHttpHeaders, host: string) => substituteHeaders(headers, credentialsFor(credentials, host)),
            getBodySubstitutions: (host: string) => {
              const pairs = credentialsFor(credentials, host).map((c) => ({ sentinel: Buffer.from(c.sentinel), realValue: Buffer.from(c.value) }));
              return pairs.length ? pairs : undefined;
            },
          }
        : {}),
    });
    const socketDir = mkdtempSync(join(tmpdir(), 'deep-agent-egress-'));
    if (ca) {
      writeFileSync(join(socketDir, EGRESS_CA_FILE), ca.certPem, { mode: 0o644 });
      copyFileSync(ca.trustBundlePath, join(socketDir, EGRESS_TRUST_BUNDLE_FILE));
    }
    // A pipe is bound synchronously by listen(); the socket file exists when this returns.
    server.listen(join(socketDir, 'proxy.sock'));
    server.unref();
    return new EgressProxy(server, socketDir, Boolean(ca));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketDir, { recursive: true, force: true });
  }
}

/**
 * For `any-public-host`: a name passes here and is judged by the guard on what it resolves to; the reserved
 * loopback names (`localhost`, `*.localhost`) are refused outright, since the guard lets them reach loopback
 * (listing them is what would ask for that); an address literal is judged by itself, as if a name had resolved
 * to it (the guard never re-judges a literal, which on an allowlist is an explicit choice).
 *
 * @example
 * isPublicDestination('127.0.0.1', 80, guard.permits); // false
 */
export function isPublicDestination(host: string, port: number, permits: (hostname: string, address: string, port: number) => boolean): boolean {
  const bare = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (isIP(bare)) return permits('address-literal.invalid', bare, port);
  return !isLoopbackName(bare);
}

const defaultLookup: Resolver = (hostname, opts, callback) => lookup(hostname, { ...opts, all: true }, callback);

