// End-to-end test of the Flash step: a loop device on a sparse 2 GiB file stands in for a
// USB stick. Attaching it needs root; without root the test is skipped and says so.
// Run it with scripts/e2e: started as root, the tests stay root and the studio runs as an
// unprivileged user, writing the stick through UDisks2 with polkit's permission.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, appRunsAsUser, byTestId, openStudio, screenshot, startDriver, udisksSeesNewDevices } from './driver.js';
import { makeImage, run, sparseFile } from './sticks.js';

const WAIT = { timeout: 30000 };
/** Laying out, writing and reading back the image: generous for slow shared machines. */
const WRITE_WAIT = { timeout: 300000 };
const GIB = 1024 * 1024 * 1024;

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-flash-'));
  driver = await startDriver();
});

after(() => driver?.stop());

describe('flash', () => {
  it('flash to a loop device standing in for a USB stick (needs root)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('attaching a loop device needs root');
      return;
    }
    const project = path.join(work, 'flashdemo');
    mkdirSync(project);
    writeFileSync(path.join(project, 'genpack.json5'), '{ name: "flashdemo", base: "debian:bookworm" }\n');
    writeFileSync(path.join(project, 'system.ini'), 'hostname=flashdemo\n');
    makeImage(work, path.join(project, 'flashdemo-x86_64.squashfs'), 'flashdemo');
    const stick = path.join(work, 'stick.img');
    sparseFile(stick, 2 * GIB);
    appOwns(work);

    /** @type {string | null} */
    let device = null;
    try {
      await withStudio([project], async (browser) => {
        await byTestId(browser, 'step-flash').click();
        await byTestId(browser, 'flash-drives').waitForDisplayed(WAIT);
        assert.match(await byTestId(browser, 'flash-image-path').getText(), /flashdemo-x86_64\.squashfs$/);
        // Run as root, the studio says quietly that root is not needed; as a user, nothing.
        assert.equal((await browser.$$('[data-testid="root-notice"]').length) > 0, !appRunsAsUser());

        // Plugged in while the list is shown: it appears by itself.
        device = run('losetup', ['--find', '--show', stick]).trim();
        await udisksSeesNewDevices();
        const name = path.basename(device);
        await waitFor(browser, `[data-testid="flash-drive-${name}"]`);
        const text = await textOf(browser, `[data-testid="flash-drive-${name}"]`);
        assert.match(text, /2\.0 GiB/);
        assert.match(text, /stick\.img/);
        // Pick it; a listing that was under way while it was attached may still replace the
        // list once, so pick until the choice holds.
        await browser.waitUntil(async () => {
          await clickIn(browser, `[data-testid="flash-drive-${name}"] input`);
          return (await browser.$('[data-testid="flash-next-options"]').getProperty('disabled')) === false;
        }, WAIT);
        await screenshot(browser, 'flash-drive');

        await clickIn(browser, '[data-testid="flash-next-options"]');
        await waitFor(browser, '#ini-_default-hostname');
        assert.equal(await browser.$('#ini-_default-hostname').getProperty('value'), 'flashdemo', 'the settings start from the project system.ini');
        await browser.execute((value) => {
          const input = /** @type {any} */ (globalThis).document.querySelector('[data-testid="flash-label"]');
          input.value = value;
          input.dispatchEvent(new Event('input', { bubbles: true }));
        }, 'FLASHTEST');
        // MBR (BIOS and UEFI) by default; without a partition table there is no data partition.
        assert.equal(await browser.$('[data-testid="flash-table-auto"]').getProperty('checked'), true);
        await clickIn(browser, '[data-testid="flash-table-superfloppy"]');
        assert.equal(await browser.$('[data-testid="flash-data-partition"]').getProperty('disabled'), true);
        await clickIn(browser, '[data-testid="flash-table-auto"]');
        assert.equal(await browser.$('[data-testid="flash-data-partition"]').getProperty('disabled'), false);
        await screenshot(browser, 'flash-options');

        await clickIn(browser, '[data-testid="flash-next-confirm"]');
        await waitFor(browser, '[data-testid="flash-confirm"]');
        assert.match(await textOf(browser, '[data-testid="flash-confirm"]'), new RegExp(device));
        assert.equal(await browser.$('[data-testid="flash-write"]').getProperty('disabled'), true, 'nothing is written before the tick');
        await clickIn(browser, '[data-testid="flash-confirm-tick"]');
        assert.equal(await browser.$('[data-testid="flash-write"]').getProperty('disabled'), false);
        await clickIn(browser, '[data-testid="flash-write"]');

        // The picture of a write in progress, if it is still going once bytes move.
        await browser.waitUntil(
          async () =>
            (await browser.$$('[data-testid="flash-done"], [data-testid="flash-failure"]').length) > 0 ||
            / of /.test(await textOf(browser, '[data-testid="flash-progress-line"]')),
          WRITE_WAIT,
        );
        if ((await browser.$$('[data-testid="flash-progress-line"]').length) > 0) await screenshot(browser, 'flash-progress');

        await browser.waitUntil(
          async () => (await browser.$$('[data-testid="flash-done"], [data-testid="flash-failure"]').length) > 0,
          WRITE_WAIT,
        );
        const failure = await textOf(browser, '[data-testid="flash-failure"]');
        assert.equal(failure, '', 'the write fails');
        assert.match(await textOf(browser, '[data-testid="flash-done"]'), /verified/);
        await screenshot(browser, 'flash-done');

        await clickIn(browser, '[data-testid="flash-eject"]');
        await waitFor(browser, '[data-testid="flash-eject-result"]');
        assert.ok((await textOf(browser, '[data-testid="flash-eject-result"]')).length > 0, 'eject says what happened');
      });

      // What a user would check on the stick: a partition table, and a FAT boot partition
      // with the image and the settings on it.
      const table = JSON.parse(run('sfdisk', ['--json', stick])).partitiontable;
      assert.ok(['dos', 'gpt'].includes(table.label), `partition table ${table.label}`);
      assert.equal(table.partitions.length, 1);
      const offset = table.partitions[0].start * (table.sectorsize ?? 512);
      const files = run('mdir', ['-b', '-i', `${stick}@@${offset}`, '::/']);
      assert.match(files, /system\.img/i);
      assert.match(run('mtype', ['-i', `${stick}@@${offset}`, '::/system.ini']), /hostname=flashdemo/);
      assert.match(run('mlabel', ['-s', '-i', `${stick}@@${offset}`, '::']), /FLASHTEST/);

      // Back to everyday use: the Restore tab leaves one empty FAT32 partition.
      await withStudio([project], async (browser) => {
        await byTestId(browser, 'step-flash').click();
        await clickIn(browser, '[data-testid="flash-tab-restore"]');
        const name = path.basename(/** @type {string} */ (device));
        await browser.waitUntil(async () => {
          await clickIn(browser, `[data-testid="flash-restore"] [data-testid="flash-drive-${name}"] input`);
          return (await browser.$$('[data-testid="restore-confirm-tick"]').length) > 0;
        }, WAIT);
        assert.equal(await browser.$('[data-testid="restore-start"]').getProperty('disabled'), true, 'nothing is erased before the tick');
        await clickIn(browser, '[data-testid="restore-confirm-tick"]');
        await clickIn(browser, '[data-testid="restore-start"]');
        await browser.waitUntil(
          async () => (await browser.$$('[data-testid="restore-done"], [data-testid="restore-failure"]').length) > 0,
          WRITE_WAIT,
        );
        assert.equal((await browser.$$('[data-testid="restore-failure"]').length), 0, await textOf(browser, '[data-testid="restore-failure"]'));
        assert.match(await textOf(browser, '[data-testid="restore-done"]'), /FAT32/);
      });
      const restored = JSON.parse(run('sfdisk', ['--json', stick])).partitiontable;
      assert.equal(restored.label, 'dos');
      assert.equal(restored.partitions.length, 1);
      assert.equal(restored.partitions[0].type, 'c');
      assert.match(run('mlabel', ['-s', '-i', `${stick}@@1M`, '::']), /USB/);
    } finally {
      if (device) run('losetup', ['--detach', device]);
    }
  });
});

/**
 * Waits until an element exists. (WebKit's driver calls elements inside the step's tabs not
 * displayed, so presence, text content and script clicks stand in for visibility here.)
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 */
async function waitFor(browser, selector) {
  await browser.waitUntil(async () => (await browser.$$(selector).length) > 0, WAIT).catch(async (error) => {
    await screenshot(browser, 'flash-failed');
    throw new Error(`${selector} did not appear: ${error.message}`);
  });
}

/**
 * The text of an element, empty when there is none. (Scripts run in the window; this file is
 * checked without DOM types, hence `globalThis.document`.)
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 * @returns {Promise<string>}
 */
async function textOf(browser, selector) {
  const text = await browser.execute((css) => /** @type {any} */ (globalThis).document.querySelector(css)?.textContent ?? '', selector);
  return String(text);
}

/** @param {WebdriverIO.Browser} browser @param {string} selector */
async function clickIn(browser, selector) {
  await waitFor(browser, selector);
  await browser.execute((css) => /** @type {any} */ (globalThis).document.querySelector(css)?.click(), selector);
}

/**
 * Runs `body` with a fresh studio window, closing it afterwards whatever happens.
 * @param {string[]} args
 * @param {(browser: WebdriverIO.Browser) => Promise<void>} body
 */
async function withStudio(args, body) {
  const browser = await openStudio(driver, args);
  try {
    await body(browser);
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}
