/** The CLI's OAuth plumbing: tokens in the local credentials table (account `local`), browser logins. */
import type { DatabaseSync } from 'node:sqlite';
import type { Config } from '../config/index.js';
import { CredentialStore, LOCAL_ACCOUNT, loadSecretKey } from '../local/index.js';
import { loopbackAuthorizer, OAuthRecords, type InteractiveAuthorizer } from '../mcp/index.js';
import type { CliIo } from './io.js';

/**
 * OAuth records of the local account, encrypted with `DEEP_AGENT_SECRET_KEY` or `<home>/secret.key`.
 *
 * @example
 * const records = localOAuthRecords(config, openDatabase(config.home));
 */
export function localOAuthRecords(config: Config, db: DatabaseSync): OAuthRecords {
  const secretKey = config.env.DEEP_AGENT_SECRET_KEY;
  const credentials = new CredentialStore(db, loadSecretKey({ home: config.home, ...(secretKey ? { secretKey } : {}) }));
  return new OAuthRecords(credentials, LOCAL_ACCOUNT);
}

/**
 * A browser authorizer when a person can answer: `$BROWSER` is set or a terminal is attached.
 *
 * @example
 * const authorizer = terminalAuthorizer(io); // undefined under a scheduler or a pipe
 */
export function terminalAuthorizer(io: CliIo, options: { always?: boolean } = {}): InteractiveAuthorizer | undefined {
  const browser = io.env.BROWSER?.trim();
  if (!options.always && !browser && !io.stdin.isTTY) return undefined;
  return loopbackAuthorizer({ ...(browser ? { browser } : {}), write: (line) => io.stderr.write(line) });
}
