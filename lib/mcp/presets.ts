/**
 * GitHub and Notion presets: each attaches only when its token is set, and says why when it does not.
 *
 * GitHub: the remote server at https://api.githubcopilot.com/mcp/ over streamable HTTP with the token as
 * bearer (default), or the npm stdio server when `DEEP_AGENT_GITHUB_MCP=stdio`.
 * Notion: `@notionhq/notion-mcp-server` over stdio; it reads `NOTION_TOKEN` (its README's recommended option).
 * Any preset can be redirected to a `{ url, headers }` endpoint (E2B's MCP gateway plugs in this way).
 */
import type { Config } from '../config/index.js';
import type { McpServerSpec } from './config.js';

export type PresetName = 'github' | 'notion';

/** An HTTP endpoint that replaces a preset's default transport (e.g. from `createE2BMcpGateway`). */
export interface PresetEndpoint {
  url: string;
  headers: Record<string, string>;
}

export interface PresetOptions {
  overrides?: Partial<Record<PresetName, PresetEndpoint>>;
}

export interface PresetDescription {
  name: PresetName;
  attached: boolean;
  /** Served by E2B's MCP gateway instead (`DEEP_AGENT_<NAME>_MCP=e2b`); the gateway is attached as one server. */
  viaE2BGateway?: boolean;
  /** Why it is (not) attached, in one line, for `deep-agent mcp list`. */
  reason: string;
  /** Present when attached. */
  spec?: McpServerSpec;
}

/** The hub's name for E2B's MCP gateway when presets are routed through it. */
export const E2B_GATEWAY_SERVER = 'e2b';
export const GITHUB_REMOTE_MCP_URL = 'https://api.githubcopilot.com/mcp/';
export const GITHUB_STDIO_PACKAGE = '@modelcontextprotocol/server-github';
export const NOTION_STDIO_PACKAGE = '@notionhq/notion-mcp-server';

function githubPreset(config: Config, override?: PresetEndpoint): PresetDescription {
  if (!config.mcp.githubToken) return { name: 'github', attached: false, reason: 'GITHUB_TOKEN is not set' };
  if (override) {
    return { name: 'github', attached: true, reason: `GITHUB_TOKEN is set; via ${override.url}`, spec: { transport: 'http', url: override.url, headers: override.headers, source: 'preset' } };
  }
  const mode = config.mcp.githubTransport;
  if (mode === 'e2b') {
    return { name: 'github', attached: false, viaE2BGateway: true, reason: `GITHUB_TOKEN is set; served by E2B's MCP gateway as ${E2B_GATEWAY_SERVER} (DEEP_AGENT_GITHUB_MCP=e2b)` };
  }
  if (mode === 'stdio') {
    return {
      name: 'github',
      attached: true,
      reason: `GITHUB_TOKEN is set; npm stdio server ${GITHUB_STDIO_PACKAGE} (DEEP_AGENT_GITHUB_MCP=stdio)`,
      spec: { transport: 'stdio', command: 'npx', args: ['-y', GITHUB_STDIO_PACKAGE], env: { GITHUB_PERSONAL_ACCESS_TOKEN: config.mcp.githubToken }, source: 'preset' },
    };
  }
  return {
    name: 'github',
    attached: true,
    reason: `GITHUB_TOKEN is set; GitHub's remote MCP server ${GITHUB_REMOTE_MCP_URL}`,
    spec: { transport: 'http', url: GITHUB_REMOTE_MCP_URL, headers: { Authorization: `Bearer ${config.mcp.githubToken}` }, source: 'preset' },
  };
}

function notionPreset(config: Config, override?: PresetEndpoint): PresetDescription {
  if (!config.mcp.notionToken) return { name: 'notion', attached: false, reason: 'NOTION_TOKEN is not set' };
  const mode = config.mcp.notionTransport;
  if (mode === 'e2b' && !override) {
    return { name: 'notion', attached: false, viaE2BGateway: true, reason: `NOTION_TOKEN is set; served by E2B's MCP gateway as ${E2B_GATEWAY_SERVER} (DEEP_AGENT_NOTION_MCP=e2b)` };
  }
  if (override) {
    return { name: 'notion', attached: true, reason: `NOTION_TOKEN is set; via ${override.url}`, spec: { transport: 'http', url: override.url, headers: override.headers, source: 'preset' } };
  }
  return {
    name: 'notion',
    attached: true,
    reason: `NOTION_TOKEN is set; npm stdio server ${NOTION_STDIO_PACKAGE}`,
    spec: { transport: 'stdio', command: 'npx', args: ['-y', NOTION_STDIO_PACKAGE], env: { NOTION_TOKEN: config.mcp.notionToken }, source: 'preset' },
  };
}

/**
 * Each preset, attached or not and why.
 *
 * @example
 * for (const p of describePresets(config)) console.log(`${p.name}: ${p.attached ? 'attached' : 'not attached'} (${p.reason})`);
 */
export function describePresets(config: Config, options: PresetOptions = {}): PresetDescription[] {
  return [githubPreset(config, options.overrides?.github), notionPreset(config, options.overrides?.notion)];
}
