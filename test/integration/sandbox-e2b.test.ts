/**
 * The sandbox contract for the E2B provider: against E2B's real cloud when E2B_API_KEY is set (skipped, saying
 * why, otherwise), and always against the test double of E2B's control plane, whose commands are real local
 * processes, so the provider's own semantics (confinement, caps, kills, network toggling) are held to the
 * same contract as bubblewrap.
 */
import { afterAll } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { createE2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { describeSandboxContract } from '../helpers/sandbox-contract.js';

const config = loadConfig(process.env);

describeSandboxContract('e2b', () => createE2BSandboxProvider(config, { options: { timeoutSeconds: 300 } }), {
  sharesHostNetwork: false,
  ...(config.sandbox.e2bApiKey ? {} : { skip: 'E2B contract skipped: E2B_API_KEY is not set' }),
});

const fake = await FakeE2B.start();
afterAll(() => fake.cleanup());
describeSandboxContract(
  'e2b provider on the E2B test double',
  () => createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_contract0123456789abcdef' }), { sdk: fake, options: { workdir: fake.workdir } }),
  {
    // The double shares this machine's filesystem, so it cannot hide the host (real E2B is a separate VM).
    isolated: false,
    makeLimitedProvider: (resourceLimits) =>
      createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_contract0123456789abcdef' }), { sdk: fake, options: { workdir: fake.workdir, resourceLimits } }),
    // In E2B the sandbox user is not root; the double runs its commands as this machine's root, whom
    // RLIMIT_NPROC does not bind.
    cannotHold: process.getuid?.() === 0 ? { pids: 'the E2B double runs commands as root, whom RLIMIT_NPROC does not bind' } : {},
  },
);
