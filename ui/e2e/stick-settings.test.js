// End-to-end test of "Configure a stick": the settings form offers the keys of the image on the
// stick itself, read from its boot partition. A loop device on a FAT image holding system.img
// and system.ini stands in for the stick; attaching it needs root (else the test is skipped).
// Run it with scripts/e2e (as root, the studio then runs as a user and reads the stick through
// UDisks2).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, byTestId, openStudio, screenshot, startDriver, udisksSeesNewDevices } from './driver.js';

const WAIT = { timeout: 30000 };
const HELP = 'The web page the kiosk shows full screen after it starts.';

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-stick-'));
  driver = await startDriver();
});

after(() => driver?.stop());

/** @param {string} command @param {string[]} args */
function run(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A stick as `genpack install --superfloppy` leaves it: one FAT32 file system holding
 * system.img (whose schema declares a drop-in module's key, kiosk_url) and system.ini.
 * @param {string} file
 */
function makeStick(file) {
  const tree = path.join(work, 'tree');
  mkdirSync(path.join(tree, '.genpack'), { recursive: true });
  mkdirSync(path.join(tree, 'usr/share/genpack'), { recursive: true });
  writeFileSync(path.join(tree, '.genpack/artifact'), 'kiosk\n');
  writeFileSync(path.join(tree, '.genpack/timestamp'), '1700000000\n');
  const key = (/** @type {string} */ name, /** @type {string} */ title, /** @type {string} */ group, /** @type {string} */ help) => ({
    section: '_default',
    key: name,
    title,
    kind: { type: 'string' },
    help,
    module: '70kiosk',
    applied_every_boot: true,
    group,
  });
  writeFileSync(
    path.join(tree, 'usr/share/genpack/system-ini.schema.json'),
    JSON.stringify({ keys: [key('hostname', 'Computer name', 'System', 'The name on the network.'), key('kiosk_url', 'Kiosk page', 'Kiosk', HELP)] }),
  );
  const image = path.join(work, 'kiosk.squashfs');
  run('mksquashfs', [tree, image, '-noappend', '-quiet', '-no-progress']);
  const ini = path.join(work, 'system.ini');
  writeFileSync(ini, 'hostname = lobby\nkiosk_url = https://example.org/\n');
  run('mkfs.vfat', ['-F', '32', '-n', 'GENPACK', '-C', file, String(128 * 1024)]);
  run('mcopy', ['-i', file, image, '::/system.img']);
  run('mcopy', ['-i', file, ini, '::/system.ini']);
}

/**
 * Waits until an element exists (WebKit's driver calls elements inside the step's tabs not
 * displayed, so presence and script clicks stand in for visibility).
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 */
async function waitFor(browser, selector) {
  await browser.waitUntil(async () => (await browser.$$(selector).length) > 0, WAIT).catch(async (error) => {
    await screenshot(browser, 'stick-settings-failed');
    throw new Error(`${selector} did not appear: ${error.message}`);
  });
}

/** @param {WebdriverIO.Browser} browser @param {string} selector @returns {Promise<string>} */
async function textOf(browser, selector) {
  const text = await browser.execute((css) => /** @type {any} */ (globalThis).document.querySelector(css)?.textContent ?? '', selector);
  return String(text);
}

/** @param {WebdriverIO.Browser} browser @param {string} selector */
async function clickIn(browser, selector) {
  await waitFor(browser, selector);
  await browser.execute((css) => /** @type {any} */ (globalThis).document.querySelector(css)?.click(), selector);
}

describe('configure a stick', () => {
  it('offers the keys of the image on the stick, with their help (needs root)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('attaching a loop device needs root');
      return;
    }
    const project = path.join(work, 'kiosk');
    mkdirSync(project);
    writeFileSync(path.join(project, 'genpack.json5'), '{ name: "kiosk", base: "debian:bookworm" }\n');
    const stick = path.join(work, 'stick.img');
    makeStick(stick);
    appOwns(work);

    /** @type {string | null} */
    let device = null;
    try {
      device = run('losetup', ['--find', '--show', stick]).trim();
      await udisksSeesNewDevices();
      const name = path.basename(device);
      const browser = await openStudio(driver, [project]);
      try {
        await byTestId(browser, 'step-flash').click();
        await clickIn(browser, '[data-testid="flash-tab-stick"]');
        const choice = `[data-testid="flash-stick"] [data-testid="flash-drive-${name}"] input`;
        await browser.waitUntil(async () => {
          await clickIn(browser, choice);
          return (await browser.$('[data-testid="flash-stick-open"]').getProperty('disabled')) === false;
        }, WAIT);
        await clickIn(browser, '[data-testid="flash-stick-open"]');

        const origin = '[data-testid="flash-stick"] [data-testid="ini-schema-origin"]';
        await waitFor(browser, origin);
        assert.match(await textOf(browser, origin), /Settings from the image on this stick built on /);
        const field = '[data-testid="flash-stick"] [data-testid="ini-field-kiosk_url"]';
        await waitFor(browser, field);
        assert.ok((await textOf(browser, field)).includes(HELP), 'the field shows its help');
        assert.doesNotMatch(await textOf(browser, '[data-testid="flash-stick"] [data-testid="ini-other"]'), /kiosk_url/);
        // One scroll area, the page's: no box scrolling inside another.
        const scrollers = await browser.execute((css) => {
          // Runs in the page.
          const page = /** @type {any} */ (globalThis);
          const found = [];
          for (let node = page.document.querySelector(css); node; node = node.parentElement) {
            const overflow = page.getComputedStyle(node).overflowY;
            if ((overflow === 'auto' || overflow === 'scroll') && node.scrollHeight > node.clientHeight + 1) found.push(node.className);
          }
          return found.join(' | ');
        }, field);
        assert.equal(String(scrollers).split(' | ').filter(Boolean).length <= 1, true, `nested scroll areas: ${scrollers}`);
        await screenshot(browser, 'stick-settings-image-schema');
      } finally {
        await browser.deleteSession().catch(() => {});
      }
    } finally {
      if (device) run('losetup', ['--detach', device]);
    }
  });
});
