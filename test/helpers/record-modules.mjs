// Preloaded with `node --import`: writes every module the process loaded before its first outgoing HTTP request
// (the first model request of a run) to the file named by RECORD_MODULES_TO, one URL a line.
import { registerHooks } from 'node:module';
import dc from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';

const loaded = [];
registerHooks({
  load(url, context, nextLoad) {
    loaded.push(url);
    return nextLoad(url, context);
  },
});
let written = false;
const write = () => {
  if (written) return;
  written = true;
  writeFileSync(process.env.RECORD_MODULES_TO, `${loaded.join('\n')}\n`);
};
dc.subscribe('undici:request:create', write);
dc.subscribe('http.client.request.start', write);
