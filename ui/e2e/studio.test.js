// End-to-end tests of the real studio window (WebKit under Xvfb, driven by tauri-driver).
// Run them with scripts/e2e.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, byTestId, openStudio, retype, screenshot, startDriver } from './driver.js';

const WAIT = { timeout: 30000 };
const TEMPLATE = 'debian-web';

/** @type {import('./driver.js').Driver} */
let driver;
/** A folder for everything the tests create. */
let work = '';

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-e2e-'));
  driver = await startDriver();
});

after(() => driver?.stop());

/**
 * Runs `body` with a fresh studio window, closing it afterwards whatever happens.
 * @param {string[]} args
 * @param {(browser: WebdriverIO.Browser) => Promise<void>} body
 */
async function withStudio(args, body) {
  // What the test wrote belongs to the user the studio runs as, as a user's own files do.
  appOwns(work);
  const browser = await openStudio(driver, args);
  try {
    await body(browser);
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}

/**
 * Types `text` into an input and leaves it, so the form commits the change.
 * @param {WebdriverIO.Browser} browser
 * @param {Parameters<typeof retype>[1]} element
 * @param {string} text
 */
async function typeAndLeave(browser, element, text) {
  // Select and replace in one go: clearing first would commit an empty field on its own.
  await retype(browser, element, text);
  await browser.keys('Tab');
}

/**
 * Closes the notification in the corner, if one is shown, so screenshots show the page.
 * @param {WebdriverIO.Browser} browser
 */
async function dismissToast(browser) {
  const close = browser.$('[data-testid="toast"] button');
  if (await close.isExisting()) await close.click();
}

/** @param {string} text */
function commentLines(text) {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('//') || line.startsWith('#') || line.startsWith(';'))
    .concat(
      text
        .split('\n')
        .filter((line) => line.includes('//') && !line.trim().startsWith('//'))
        .map((line) => line.slice(line.indexOf('//')).trim()),
    );
}

describe('genpack studio', () => {
  it('shows the template gallery and filters it', async () => {
    await withStudio([], async (browser) => {
      const cards = () => browser.$$('[data-testid="gallery"] > li');
      await byTestId(browser, `template-${TEMPLATE}`).waitForDisplayed(WAIT);
      const all = await cards().length;
      assert.ok(all >= 3, `the gallery shows ${all} templates`);
      await screenshot(browser, 'gallery');

      await byTestId(browser, 'category-Server').click();
      await browser.waitUntil(async () => (await cards().length) < all, WAIT);
      const servers = await cards().length;
      assert.ok(servers >= 1 && servers < all, `Server shows ${servers} of ${all}`);
      assert.ok(await byTestId(browser, `template-${TEMPLATE}`).isDisplayed());

      await byTestId(browser, 'category-All').click();
      await byTestId(browser, 'gallery-search').setValue('nginx');
      await browser.waitUntil(async () => (await cards().length) < all, WAIT);
      assert.ok(await byTestId(browser, `template-${TEMPLATE}`).isDisplayed());

      // An appliance with both flavours is one card; its dialog offers the ready-made one first.
      await byTestId(browser, 'gallery-search').setValue('samba');
      await byTestId(browser, 'template-file-server').waitForDisplayed(WAIT);
      assert.match(await byTestId(browser, 'flavour-ready-file-server').getText(), /Ready-made/);
      assert.match(await byTestId(browser, 'flavour-compiled-file-server').getText(), /Compiled for you/);
      await byTestId(browser, 'template-file-server').click();
      await byTestId(browser, 'flavours').waitForDisplayed(WAIT);
      assert.ok(await byTestId(browser, 'flavour-ready').isSelected());
      assert.ok(!(await byTestId(browser, 'flavour-compiled').isSelected()));
      await screenshot(browser, 'template-flavours');
      await browser.keys('Escape');
      await byTestId(browser, 'flavours').waitForDisplayed({ ...WAIT, reverse: true });

      await byTestId(browser, 'gallery-search').setValue('no-such-template-anywhere');
      await byTestId(browser, 'gallery-empty').waitForDisplayed(WAIT);
      assert.equal(await cards().length, 0);
    });
  });

  it('creates a project from a template, edits it in the form and saves it keeping every comment', async () => {
    const parent = path.join(work, 'projects');
    mkdirSync(parent, { recursive: true });
    await withStudio([], async (browser) => {
      await byTestId(browser, `template-${TEMPLATE}`).waitForDisplayed(WAIT);
      await byTestId(browser, `template-${TEMPLATE}`).click();
      await byTestId(browser, 'template-description').waitForDisplayed(WAIT);
      await screenshot(browser, 'template-detail');
      await byTestId(browser, 'start-create').click();
      await typeAndLeave(browser, 'project-name', 'my-web');
      await typeAndLeave(browser, 'project-parent', parent);
      await byTestId(browser, 'create-project').click();

      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);
      const file = path.join(parent, 'my-web', 'genpack.json5');
      const original = readFileSync(file, 'utf8');
      const template = readFileSync(path.join(process.env.TEMPLATES_DIR ?? '', TEMPLATE, 'genpack.json5'), 'utf8');

      const name = await browser.$('#field-name');
      await name.waitForDisplayed(WAIT);
      assert.equal(await name.getValue(), 'my-web');
      await typeAndLeave(browser, { css: '#field-name' }, 'my-web-renamed');
      await byTestId(browser, 'unsaved').waitForDisplayed(WAIT);

      const newPackage = byTestId(browser, 'field-packages-new');
      await newPackage.setValue('curl');
      await browser.keys('Enter');
      await browser.waitUntil(async () => (await browser.$$('[data-testid="field-packages"] ol input').length) === 4, WAIT);
      // The effective result follows the edits.
      await browser.waitUntil(async () => /curl/.test(await byTestId(browser, 'effective').getText()), WAIT);
      await dismissToast(browser);
      await screenshot(browser, 'definition-editor');

      await byTestId(browser, 'save').click();
      await byTestId(browser, 'unsaved').waitForDisplayed({ ...WAIT, reverse: true });

      const saved = readFileSync(file, 'utf8');
      assert.notEqual(saved, original);
      assert.match(saved, /name: "my-web-renamed"/);
      assert.match(saved, /"curl"/);
      for (const comment of commentLines(template)) {
        assert.ok(saved.includes(comment), `comment kept: ${comment}`);
      }

      await byTestId(browser, 'tab-raw').click();
      await byTestId(browser, 'raw-editor').waitForDisplayed(WAIT);
      await screenshot(browser, 'definition-raw');
    });
  });

  it('opens a malformed genpack.json5 and shows the error at its line', async () => {
    const dir = path.join(work, 'broken');
    mkdirSync(dir, { recursive: true });
    // The comma after the packages list on line 4 is missing.
    writeFileSync(
      path.join(dir, 'genpack.json5'),
      '// broken on purpose\n{\n  name: "broken",\n  packages: ["app-misc/screen"]\n  services: ["sshd"],\n}\n',
    );
    await withStudio([dir], async (browser) => {
      const location = byTestId(browser, 'problem-location');
      await location.waitForDisplayed(WAIT);
      const where = await location.getText();
      assert.match(where, /^4:/, `the error is shown at ${where}`);
      assert.match(await byTestId(browser, 'problems-summary').getText(), /1 error/);

      await byTestId(browser, 'problem').click();
      await byTestId(browser, 'raw-editor').waitForDisplayed(WAIT);
      await browser.waitUntil(
        async () => (await browser.$$('[data-testid="raw-editor"] .cm-lintRange-error').length) >= 1,
        { ...WAIT, timeoutMsg: 'the raw editor marks the error' },
      );
      await screenshot(browser, 'malformed');
    });
  });

  it('edits a system.ini in the form, keeping comments and unknown keys', async () => {
    const file = path.join(work, 'system.ini');
    const original = [
      '# Settings for the test box',
      'hostname = before',
      '',
      '; a key this image does not know',
      'my_custom_key = keep me',
      '',
      '[extra]',
      '# comment inside a section',
      'answer = 42',
      '',
    ].join('\n');
    writeFileSync(file, original);
    await withStudio([], async (browser) => {
      await byTestId(browser, 'open-project').waitForDisplayed(WAIT);
      const typed = await browser.$('#typed-path');
      await typed.setValue(file);
      await byTestId(browser, 'open-typed').click();

      const hostname = await browser.$('#ini-_default-hostname');
      await hostname.waitForDisplayed(WAIT);
      assert.equal(await hostname.getValue(), 'before');
      assert.match(await byTestId(browser, 'ini-other').getText(), /my_custom_key/);

      await typeAndLeave(browser, { css: '#ini-_default-hostname' }, 'after-e2e');
      await typeAndLeave(browser, { css: '#ini-_default-timezone' }, 'Europe/Berlin');
      await byTestId(browser, 'ini-unsaved').waitForDisplayed(WAIT);
      await screenshot(browser, 'system-ini-editor');

      await byTestId(browser, 'ini-save').click();
      await byTestId(browser, 'ini-unsaved').waitForDisplayed({ ...WAIT, reverse: true });

      const saved = readFileSync(file, 'utf8');
      assert.match(saved, /^hostname = after-e2e$/m);
      assert.match(saved, /Europe\/Berlin/);
      for (const line of original.split('\n').filter((l) => /^[#;]|^my_custom_key|^answer|^\[extra\]/.test(l))) {
        assert.ok(saved.includes(line), `kept: ${line}`);
      }
    });
  });
  it('offers the keys of the project\'s image, with their help, once it is built', async () => {
    const dir = path.join(work, 'kiosk');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'genpack.json5'), '{ name: "kiosk", base: "debian:bookworm" }\n');
    writeFileSync(path.join(dir, 'system.ini'), 'hostname = lobby\nkiosk_url = https://example.org/\n');
    // The image a build would write: its schema declares a drop-in module's key.
    const help = 'The web page the kiosk shows full screen after it starts.';
    const tree = path.join(work, 'kiosk-tree');
    mkdirSync(path.join(tree, '.genpack'), { recursive: true });
    mkdirSync(path.join(tree, 'usr/share/genpack'), { recursive: true });
    writeFileSync(path.join(tree, '.genpack/artifact'), 'kiosk\n');
    writeFileSync(path.join(tree, '.genpack/timestamp'), '1700000000\n');
    /** @param {string} name @param {string} title @param {string} group @param {string} text */
    const key = (name, title, group, text) => ({
      section: '_default', key: name, title, kind: { type: 'string' }, help: text, module: '70kiosk', applied_every_boot: true, group,
    });
    writeFileSync(
      path.join(tree, 'usr/share/genpack/system-ini.schema.json'),
      JSON.stringify({ keys: [key('hostname', 'Computer name', 'System', 'The name on the network.'), key('kiosk_url', 'Kiosk page', 'Kiosk', help)] }),
    );

    await withStudio([dir], async (browser) => {
      await byTestId(browser, 'step-configure').click();
      // The Flash step holds a settings editor too (hidden): look inside Configure only.
      const pane = byTestId(browser, 'pane-configure');
      const inPane = (/** @type {string} */ id) => pane.$(`[data-testid="${id}"]`);
      const origin = inPane('ini-schema-origin');
      await origin.waitForDisplayed(WAIT);
      // Not built yet: the built-in keys, and the note says so; kiosk_url is an other setting.
      assert.match(await origin.getText(), /^Built-in settings: kiosk-x86_64\.squashfs is not built yet/);
      assert.match(await inPane('ini-other').getText(), /kiosk_url/);

      execFileSync('mksquashfs', [tree, path.join(dir, 'kiosk-x86_64.squashfs'), '-noappend', '-quiet', '-no-progress']);
      const field = inPane('ini-field-kiosk_url');
      await field.waitForDisplayed({ timeout: 30000 });
      assert.match(await origin.getText(), /^Settings from the image built on /);
      assert.ok((await field.getText()).includes(help), 'the field shows its help');
      assert.equal(await field.$('input').getValue(), 'https://example.org/');
      assert.doesNotMatch(await inPane('ini-other').getText(), /kiosk_url/);
      await screenshot(browser, 'system-ini-image-schema');
    });
  });
});
