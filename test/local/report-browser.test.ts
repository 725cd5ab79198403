import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunReport, renderHtml } from '../../local/report.js';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium.js';
import { PLAN, REPORT } from '../support/report-fixtures.js';

// Markup a beacon could hold in a registry value (or a name): each must show as text and never run.
const HOSTILE = [
  `<img src=x onerror="window.__pwned='img'">`,
  `<script>window.__pwned='script'</script>`,
  `"><svg onload="window.__pwned='svg'">`,
  `</td></tr></table><iframe src="javascript:window.__pwned='iframe'"></iframe>`,
];

const hostileReport: RunReport = {
  ...REPORT,
  fleetDir: `/tmp/${HOSTILE[1]}`,
  beacons: [
    { ...REPORT.beacons[0]!, computerName: HOSTILE[0]!, diff: [{ id: 'registry:Common\\https_proxy', before: `REG_SZ ${HOSTILE[0]}`, after: 'REG_SZ https://proxy.corp.example:8080' }, ...REPORT.beacons[0]!.diff] },
    { ...REPORT.beacons[1]!, reasons: [HOSTILE[2]!], restored: [{ id: `wininet:${HOSTILE[3]}`, before: HOSTILE[1]!, after: `REG_SZ ${HOSTILE[2]}` }] },
    ...REPORT.beacons.slice(2),
  ],
  refused: [{ requestId: 'bad', source: 'local', error: { code: 'PAC_UNSUPPORTED', message: HOSTILE[3]!, field: 'proxy' } }],
};

let browser: Browser | null = null;
let skipReason = '';
const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-report-'));

beforeAll(async () => {
  const chromiumAvailable = ensureChromium();
  if (!chromiumAvailable.ok) {
    skipReason = `the report's browser check needs headless Chromium: ${chromiumAvailable.reason}`;
    console.warn(`SKIPPED: ${skipReason}`);
    return;
  }
  // Playwright starts it with a new, empty profile of its own.
  browser = await chromium.launch({ executablePath: chromiumAvailable.executablePath, args: [...CHROMIUM_ARGS], headless: true });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a report in a fresh page and collects every script error and console error it produces. */
async function open(report: RunReport, name: string): Promise<{ page: Page; errors: string[] }> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, renderHtml(report));
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  return { page, errors };
}

describe('the HTML report in a real browser (headless Chromium)', () => {
  it('loads without a script error and shows the counts and the FNMS pin outcome at the top', async (context) => {
    if (!browser) context.skip(skipReason);
    const { page, errors } = await open(REPORT, 'run');
    expect(errors).toEqual([]);
    const count = (group: string) => page.locator(`#summary li[data-group="${group}"] b`).innerText();
    expect(await count('ok')).toBe('2');
    expect(await count('rolled back')).toBe('1');
    expect(await count('failed')).toBe('0');
    expect(await count('skipped')).toBe('1');
    expect(await page.locator('#fnms').innerText()).toBe('FNMS "Beacon version approved for use": "Always use the latest version" -> 13.2.0 (pinned by this run, 1 write(s))');
    await page.close();
  });

  it('each beacon\'s before/after table is collapsible: a failed one open, an ok one opens on a click', async (context) => {
    if (!browser) context.skip(skipReason);
    const { page, errors } = await open(REPORT, 'collapsible');
    const okRow = page.locator('#beacon-i-1');
    const okTable = okRow.locator('table.diff');
    expect(await okTable.isVisible()).toBe(false);
    await okRow.locator('details summary').click();
    expect(await okTable.isVisible()).toBe(true);
    expect(await okTable.locator('tbody tr').first().innerText()).toBe('registry:Common\\https_proxy\tabsent\tREG_SZ https://proxy.corp.example:8080');
    const rolledBack = page.locator('#beacon-i-2');
    expect(await rolledBack.locator('caption', { hasText: 'Restored by the rollback' }).isVisible()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a plan shows the would-change and no-change counts and current -> wanted tables', async (context) => {
    if (!browser) context.skip(skipReason);
    const { page, errors } = await open(PLAN, 'plan');
    expect(errors).toEqual([]);
    expect(await page.locator('#summary li[data-group="would change"] b').innerText()).toBe('1');
    expect(await page.locator('#summary li[data-group="no change"] b').innerText()).toBe('1');
    await page.locator('#beacon-i-1 details summary').click();
    expect((await page.locator('#beacon-i-1 table.diff thead').innerText()).trim()).toBe('Item\tCurrent\tWanted');
    await page.close();
  });

  it('a hostile value in a registry entry (or a name, a reason, an id) renders as text: no element, no script runs', async (context) => {
    if (!browser) context.skip(skipReason);
    const { page, errors } = await open(hostileReport, 'hostile');
    await page.locator('#beacon-i-1 details summary').click();
    const cells = await page.locator('table.diff td, table.diff th, td, li').allTextContents();
    for (const value of HOSTILE) expect(cells.some((text) => text.includes(value)), value).toBe(true);
    expect(await page.locator('#beacon-i-1 table.diff td').first().textContent()).toBe(`REG_SZ ${HOSTILE[0]}`);
    const injected = await page.evaluate("({ elements: document.querySelectorAll('body img, body script, body svg, body iframe').length, pwned: window.__pwned ?? null })");
    expect(injected).toEqual({ elements: 0, pwned: null });
    expect(errors).toEqual([]);
    await page.close();
  });
});
