// End-to-end test of writing several sticks at once. Loop devices stand in for USB sticks; one
// of them stands in for a stick that holds less than it claims (a fake-capacity stick): its
// 2 GiB file lives on a 48 MiB tmpfs, so writing past 48 MiB fails with an I/O error, as on
// such a stick. Attaching loop devices and mounting the tmpfs need root; without root the test
// is skipped and says so. Run with scripts/e2e.

import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, byTestId, openStudio, screenshot, startDriver, udisksSeesNewDevices } from './driver.js';
import { makeImage, run, sparseFile } from './sticks.js';

const WAIT = { timeout: 30000 };
/** Laying out, writing and reading back the image: generous for slow shared machines. */
const WRITE_WAIT = { timeout: 300000 };
const GIB = 1024 * 1024 * 1024;

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';
/** Cleanups, run last first. @type {(() => void)[]} */
const undo = [];

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-flash-many-'));
  driver = await startDriver();
});

after(() => {
  driver?.stop();
  for (const step of undo.reverse()) {
    try {
      step();
    } catch {
      // Best effort: the next steps still run.
    }
  }
});

/** Attaches `file` as a loop device, detached at the end. @param {string} file */
function attach(file) {
  const device = run('losetup', ['--find', '--show', file]).trim();
  undo.push(() => run('losetup', ['--detach', device]));
  return device;
}

/** The first `bytes` of a file or device. @param {string} file @param {number} bytes */
function head(file, bytes) {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** A project with a built image and a system.ini. */
function makeProject() {
  const project = path.join(work, 'flashmany');
  mkdirSync(project);
  writeFileSync(path.join(project, 'genpack.json5'), '{ name: "flashmany", base: "debian:bookworm" }\n');
  writeFileSync(path.join(project, 'system.ini'), 'hostname=flashmany\n');
  makeImage(work, path.join(project, 'flashmany-x86_64.squashfs'), 'flashmany');
  return project;
}

describe('flash to several sticks', () => {
  it('writes two sticks at once; the one that fails is marked failed with its reason, the other is verified (needs root)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('attaching loop devices and mounting a tmpfs need root');
      return;
    }
    const project = makeProject();
    sparseFile(path.join(work, 'good-stick.img'), 2 * GIB);
    const good = attach(path.join(work, 'good-stick.img'));
    // The fake-capacity stick: 2 GiB claimed, 48 MiB of room.
    const room = path.join(work, 'small-room');
    mkdirSync(room);
    run('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', room]);
    undo.push(() => run('umount', [room]));
    sparseFile(path.join(room, 'fake-stick.img'), 2 * GIB);
    const fake = attach(path.join(room, 'fake-stick.img'));
    appOwns(work);
    await udisksSeesNewDevices();
    const goodName = path.basename(good);
    const fakeName = path.basename(fake);

    await withStudio([project], async (browser) => {
      await byTestId(browser, 'step-flash').click();
      await byTestId(browser, 'flash-drives').waitForDisplayed(WAIT);
      for (const name of [goodName, fakeName]) {
        // A listing under way may replace the list once: tick until the tick holds.
        await browser.waitUntil(async () => {
          const box = `[data-testid="flash-wizard"] [data-testid="flash-drive-${name}"] input`;
          if (!(await propertyOf(browser, box, 'checked'))) await clickIn(browser, box);
          return (await propertyOf(browser, box, 'checked')) === true;
        }, WAIT);
      }
      assert.match(await textOf(browser, '[data-testid="flash-several"]'), /written to all 2 drives at once/);
      await clickIn(browser, '[data-testid="flash-next-options"]');
      await waitFor(browser, '#ini-_default-hostname');
      await clickIn(browser, '[data-testid="flash-next-confirm"]');
      await waitFor(browser, '[data-testid="flash-confirm"]');
      const confirm = await textOf(browser, '[data-testid="flash-confirm"]');
      assert.ok(confirm.includes(good) && confirm.includes(fake), `both drives are named: ${confirm}`);
      await clickIn(browser, '[data-testid="flash-confirm-tick"]');
      await clickIn(browser, '[data-testid="flash-write"]');

      await browser.waitUntil(async () => (await browser.$$('[data-testid="flash-done"], [data-testid="flash-failure"]').length) > 0, WRITE_WAIT);
      assert.equal(await textOf(browser, '[data-testid="flash-failure"]'), '', 'the write as a whole does not fail');
      assert.equal(await textOf(browser, '[data-testid="flash-done-title"]'), '1 of 2 drives written and verified, 1 failed');
      assert.equal(await attributeOf(browser, `[data-testid="flash-outcome-${goodName}"]`, 'data-outcome'), 'written');
      assert.match(await textOf(browser, `[data-testid="flash-outcome-${goodName}"]`), /verified/);
      assert.equal(await attributeOf(browser, `[data-testid="flash-outcome-${fakeName}"]`, 'data-outcome'), 'failed');
      const reason = await textOf(browser, `[data-testid="flash-outcome-${fakeName}"]`);
      assert.match(reason, new RegExp(`${fake}.*(I/O error|Input/output error|No space left)`, 's'), reason);
      assert.match(reason, /no partition table now/);
      await screenshot(browser, 'flash-many-done');
    });

    // What a user would check: the good stick boots (a partition table, the image and the
    // settings on its FAT), the failed one does not look bootable (no partition table).
    const table = JSON.parse(run('sfdisk', ['--json', good])).partitiontable;
    assert.equal(table.label, 'dos');
    const offset = table.partitions[0].start * (table.sectorsize ?? 512);
    assert.match(run('mdir', ['-b', '-i', `${good}@@${offset}`, '::/']), /system\.img/i);
    assert.match(run('mtype', ['-i', `${good}@@${offset}`, '::/system.ini']), /hostname=flashmany/);
    assert.ok(head(fake, 1024 * 1024).every((byte) => byte === 0), 'the failed stick has no partition table');
  });
});

/**
 * Waits until an element exists.
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 */
async function waitFor(browser, selector) {
  await browser.waitUntil(async () => (await browser.$$(selector).length) > 0, WAIT).catch(async (error) => {
    await screenshot(browser, 'flash-many-failed');
    throw new Error(`${selector} did not appear: ${error.message}`);
  });
}

/**
 * The text of an element, empty when there is none.
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 * @returns {Promise<string>}
 */
async function textOf(browser, selector) {
  const text = await browser.execute((css) => /** @type {any} */ (globalThis).document.querySelector(css)?.textContent ?? '', selector);
  return String(text).trim();
}

/**
 * A DOM property of an element, `null` when there is none.
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 * @param {string} name
 */
async function propertyOf(browser, selector, name) {
  return /** @type {Promise<unknown>} */ (browser.execute((css, key) => /** @type {any} */ (globalThis).document.querySelector(css)?.[key] ?? null, selector, name));
}

/**
 * An attribute of an element, `null` when there is none.
 * @param {WebdriverIO.Browser} browser
 * @param {string} selector
 * @param {string} name
 */
async function attributeOf(browser, selector, name) {
  return browser.execute((css, key) => /** @type {any} */ (globalThis).document.querySelector(css)?.getAttribute(key) ?? null, selector, name);
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
