// The public site in a real browser: each page is loaded by Debian's
// Chromium (headless), photographed, weighed (everything but images) and
// checked by axe-core for WCAG 2.1 A/AA and best practice. Fails on any
// serious or critical violation, or a page over 100 KB.
//
//   node .ci/site/check.mjs http://127.0.0.1:8091 OUT_DIR /path1 /path2 …
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, out, ...pages] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
// The service forbids every script (Content-Security-Policy); axe is the
// checker's own script, let in for the check only.
// A Vietnamese phone: pages in Vietnamese unless ?lang=en.
const context = await browser.newContext({ bypassCSP: true, locale: 'vi-VN', viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
let failed = false;
const summary = [];
for (const page_path of pages) {
  const page = await context.newPage();
  let weight = 0;
  page.on('response', async (response) => {
    const type = response.headers()['content-type'] || '';
    if (type.startsWith('image/')) return;
    try { weight += (await response.body()).length; } catch { /* redirects have no body */ }
  });
  const response = await page.goto(base + page_path, { waitUntil: 'load' });
  const status = response.status();
  const name = page_path.replace(/[^a-z0-9]+/gi, '_').replace(/^_|_$/g, '') || 'home';
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
  fs.writeFileSync(path.join(out, `${name}.html`), await response.text());
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const other = result.violations.filter((v) => !serious.includes(v));
  summary.push({ page: page_path, status, weight_bytes: weight, serious: serious.length, other: other.map((v) => v.id) });
  for (const v of serious) {
    failed = true;
    console.error(`${page_path}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} elements, e.g. ${v.nodes[0]?.html})`);
  }
  if (weight > 100 * 1024) {
    failed = true;
    console.error(`${page_path}: ${weight} bytes without images (limit 100 KB)`);
  }
  await page.close();
}
await browser.close();
console.log(JSON.stringify(summary, null, 1));
fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 1));
process.exit(failed ? 1 : 0);
