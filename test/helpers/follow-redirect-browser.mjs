// A "browser" for tests ($BROWSER=node this-file): follows the authorization URL's redirects until the
// loopback callback has answered, as a person's browser does after approving (test servers auto-approve).
const start = process.argv[process.argv.length - 1];
let url = start;
for (let hop = 0; hop < 6; hop++) {
  const res = await fetch(url, { redirect: 'manual' });
  const next = res.headers.get('location');
  if (res.status < 300 || res.status >= 400 || !next) {
    await res.text().catch(() => {});
    process.exit(res.ok ? 0 : 1);
  }
  url = new URL(next, url).toString();
}
process.exit(1);
