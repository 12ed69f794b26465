// GraphiQL in headless Chromium, offline: every request that does not go to the server under
// test is refused, as on a network that filters CDNs. The page must load, run a query from
// its editor, and show the answer. `node graphiql.mjs http://127.0.0.1:8080`.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const base = (process.argv[2] ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  const elsewhere = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith(base.replace(/^http/, 'ws'))) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  const failures = [];
  page.on('pageerror', (e) => failures.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && failures.push(m.text()));

  const query = '{ priority(slug: "air-quality") { number title } }';
  await page.goto(`${base}/graphql?query=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
  await page.waitForSelector('.graphiql-execute-button', { timeout: 20000 });
  // The docs explorer is there, built from the schema's descriptions.
  assert.ok(await page.locator('[aria-label="Show Documentation Explorer"]').count() > 0, 'a docs button');

  await page.click('.graphiql-execute-button');
  const result = page.locator('.result-window');
  await result.getByText('Improve air quality', { exact: false }).first().waitFor({ timeout: 20000 });
  const text = await result.innerText();
  assert.ok(text.includes('"number": 4'), text);
  assert.deepEqual(elsewhere, [], 'the page asked for nothing outside the server');
  assert.deepEqual(failures, [], 'no errors in the page');
  console.log('GraphiQL: loaded offline, ran a query, showed the answer');
} finally {
  await browser.close();
}
