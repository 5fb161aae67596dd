// End-to-end tests of a newcomer's first steps at 1280x800: creating a project with a name as
// people type it, the Define form of a Debian project, the build estimate, the Configure
// defaults and where notices appear. Run them with scripts/e2e.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, byTestId, openStudio, retype, screenshot, startDriver } from './driver.js';

const WAIT = { timeout: 30000 };

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-firsthour-'));
  driver = await startDriver();
});

after(() => driver?.stop());

/**
 * A studio window of the size a small laptop gives it.
 * @param {string[]} args
 * @param {(browser: WebdriverIO.Browser) => Promise<void>} body
 */
async function withStudio(args, body) {
  // What the test wrote belongs to the user the studio runs as, as a user's own files do.
  appOwns(work);
  const browser = await openStudio(driver, args);
  try {
    await browser.setWindowSize(1280, 800).catch(() => {});
    await body(browser);
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}

/**
 * Runs `script` in the page with `args` and returns its result.
 * @param {WebdriverIO.Browser} browser
 * @param {string} body the function body; `args` holds the arguments
 * @param {unknown[]} args
 */
async function inPage(browser, body, ...args) {
  return browser.execute(`return (function (args) { ${body} })(arguments)`, ...args);
}

/** @param {WebdriverIO.Browser} browser @param {string} selector */
async function textOf(browser, selector) {
  return String(await inPage(browser, 'return document.querySelector(args[0])?.textContent ?? "";', selector));
}

/** @param {WebdriverIO.Browser} browser @param {string} selector */
async function exists(browser, selector) {
  return Boolean(await inPage(browser, 'return document.querySelector(args[0]) !== null;', selector));
}

/** @param {WebdriverIO.Browser} browser @param {string} selector */
async function until(browser, selector) {
  await browser.waitUntil(() => exists(browser, selector), { ...WAIT, timeoutMsg: `${selector} did not appear` });
}

describe('a newcomer\'s first hour', () => {
  it('creates a project from a name as people write it, in a folder that does not exist yet', async () => {
    const parent = path.join(work, 'new', 'projects');
    await withStudio([], async (browser) => {
      await byTestId(browser, 'template-file-server').waitForDisplayed(WAIT);
      await byTestId(browser, 'template-file-server').click();
      await byTestId(browser, 'flavour-ready').click();
      await byTestId(browser, 'start-create').click();

      // The name field has the focus: typing replaces the suggested name.
      await byTestId(browser, 'project-name').waitForDisplayed(WAIT);
      assert.equal(await inPage(browser, 'return document.activeElement?.dataset.testid ?? "";'), 'project-name');
      // One key at a time: in one action sequence WebKit's driver drops keys.
      for (const key of 'My File Server') await browser.keys(key);
      await byTestId(browser, 'project-name-suggestion').waitForDisplayed({ ...WAIT, timeoutMsg: 'no suggestion for "My File Server"' });
      assert.match(await byTestId(browser, 'project-name-problem').getText(), /starts with 'M'/);
      assert.match(await byTestId(browser, 'project-name-suggestion').getText(), /my-file-server/);
      await screenshot(browser, 'create-name-suggestion');
      await byTestId(browser, 'project-name-suggestion').click();
      assert.equal(await byTestId(browser, 'project-name').getValue(), 'my-file-server');
      await byTestId(browser, 'project-name-problem').waitForDisplayed({ ...WAIT, reverse: true });

      // A folder that does not exist yet is offered to be made.
      await retype(browser, 'project-parent', parent);
      await byTestId(browser, 'project-folder-missing').waitForDisplayed({ ...WAIT, timeoutMsg: 'the missing folder is not offered' });
      assert.ok(await byTestId(browser, 'project-create-folder').isSelected(), 'creating the folder is ticked');
      await screenshot(browser, 'create-missing-folder');
      await byTestId(browser, 'create-project').click();
      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);
      const dir = path.join(parent, 'my-file-server');
      assert.ok(existsSync(path.join(dir, 'genpack.json5')), `${dir} was created`);

      // The machine is called after the project.
      assert.match(readFileSync(path.join(dir, 'system.ini'), 'utf8'), /^hostname = my-file-server$/m);

      // Before the first build the Build step says how long it takes, from the template's numbers.
      await byTestId(browser, 'step-build').click();
      await byTestId(browser, 'build-estimate').waitForDisplayed(WAIT);
      assert.match(
        await byTestId(browser, 'build-estimate').getText(),
        /^The first build \(it makes the base layer\) takes about \d+ (s|min), as measured for its template\.$/,
      );
      await screenshot(browser, 'build-estimate');

      // Flash right away: no image yet, said plainly.
      await byTestId(browser, 'step-flash').click();
      await until(browser, '[data-testid="flash-image"]');
      assert.match(await textOf(browser, '[data-testid="flash-image"]'), /No image yet/);
    });
  });

  it('speaks Debian in the Define form of a Debian project, and one wrong base is one error', async () => {
    const dir = path.join(work, 'web');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'genpack.json5'),
      '{\n  name: "web",\n  base: "debian:bookworm",\n  profile: "paravirt",\n  packages: ["nginx"],\n  services: ["nginx"],\n}\n',
    );
    await withStudio([dir], async (browser) => {
      const base = await browser.$('#field-base');
      await base.waitForDisplayed(WAIT);
      await screenshot(browser, 'definition-debian-top');
      // Base is a list of the bases genpack knows.
      assert.equal(await base.getTagName(), 'select');
      const options = String(await inPage(browser, 'return [...document.querySelectorAll("#field-base option")].map((o) => o.value + "=" + o.textContent).join("|");'));
      assert.match(options, /debian:bookworm=Debian 12 \(bookworm\)/);
      assert.match(options, /gentoo=Gentoo/);
      assert.equal(await base.getValue(), 'debian:bookworm');

      // Help and examples name Debian packages, not Gentoo atoms.
      const packages = await textOf(browser, '[data-testid="field-packages"]');
      assert.match(packages, /one Debian package per entry/);
      assert.doesNotMatch(packages, /category\/name|=sys-fs\/fuse/);
      assert.equal(await byTestId(browser, 'field-packages-new').getAttribute('placeholder'), 'package name, like nginx');

      // Build internals are under Advanced, Portage settings are not shown at all.
      const main = await textOf(browser, '[data-testid="form-fields"]');
      assert.doesNotMatch(main, /Build disk size/);
      const advanced = await textOf(browser, '[data-testid="advanced"]');
      assert.match(advanced, /Build disk size/);
      assert.doesNotMatch(advanced, /USE flags/);
      await byTestId(browser, 'advanced').click();
      await screenshot(browser, 'definition-debian');
    });

    // The same project with a base genpack does not know: one error, on `base`.
    writeFileSync(
      path.join(dir, 'genpack.json5'),
      '{\n  name: "web",\n  base: "ubuntu",\n  profile: "paravirt",\n  packages: ["nginx", "openssh-server"],\n  services: ["nginx"],\n}\n',
    );
    await withStudio([dir], async (browser) => {
      await byTestId(browser, 'problems-summary').waitForDisplayed(WAIT);
      await browser.waitUntil(async () => /error/.test(await byTestId(browser, 'problems-summary').getText()), WAIT);
      assert.equal(await byTestId(browser, 'problems-summary').getText(), '1 error');
      assert.equal(await browser.$$('[data-testid="problem"]').length, 1);
      assert.match(await byTestId(browser, 'problem').getText(), /unknown base ubuntu/);
    });
  });

  it('shows Configure\'s defaults as defaults, names a mistyped key, and keeps notices on their page', async () => {
    const dir = path.join(work, 'kitchen');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'genpack.json5'), '{ name: "kitchen", base: "debian:bookworm" }\n');
    writeFileSync(path.join(dir, 'system.ini'), '# the kitchen box\nhostnme = pantry\ndebug = maybe\n');
    await withStudio([dir], async (browser) => {
      await byTestId(browser, 'step-configure').click();
      const pane = '[data-testid="pane-configure"]';
      await until(browser, `${pane} #ini-_default-hostname`);

      // The host name the machine gets when the file does not set one: the project's.
      assert.equal(await inPage(browser, 'return document.querySelector(args[0]).placeholder;', `${pane} #ini-_default-hostname`), 'kitchen');
      // Yes/no keys have three states; one the file does not set shows its default.
      assert.equal(await inPage(browser, 'return document.querySelector(args[0]).tagName;', `${pane} #ini-_default-swapfile`), 'SELECT');
      assert.equal(await inPage(browser, 'return document.querySelector(args[0]).value;', `${pane} #ini-_default-swapfile`), '');
      assert.equal(
        await inPage(browser, 'const s = document.querySelector(args[0]); return s.options[s.selectedIndex].textContent;', `${pane} #ini-_default-swapfile`),
        'Default (yes)',
      );
      // The typo is named, with the key that was meant (key names are shown as code).
      await until(browser, `${pane} [data-testid="ini-issues"]`);
      assert.match(await textOf(browser, `${pane} [data-testid="ini-issues"]`), /hostnme is not used by this image; did you mean hostname\?/);
      // The default section is never shown by its internal name.
      assert.doesNotMatch(await textOf(browser, pane), /_default/);
      await screenshot(browser, 'configure-defaults');

      // A change, then Save: a file with errors is refused, with a notice in Configure…
      await inPage(
        browser,
        'const f = document.querySelector(args[0]); f.value = "kitchen-box"; f.dispatchEvent(new Event("change", { bubbles: true }));',
        `${pane} #ini-_default-timezone`,
      );
      await until(browser, `${pane} [data-testid="ini-unsaved"]`);
      await inPage(browser, 'document.querySelector(args[0]).click();', `${pane} [data-testid="ini-save"]`);
      await byTestId(browser, 'toast').waitForDisplayed({ ...WAIT, timeoutMsg: 'no notice about the refused save' });
      assert.match(await byTestId(browser, 'toast').getText(), /Not saved/);
      // …above the step's content, covering none of it…
      const overlap = await inPage(
        browser,
        'const t = document.querySelector("[data-testid=toast]").getBoundingClientRect(); const p = document.querySelector(args[0]).getBoundingClientRect(); return t.bottom > p.top + 1;',
        pane,
      );
      assert.equal(overlap, false, 'the notice covers the step');
      await screenshot(browser, 'notice-in-step');
      // …not shown on another step…
      await byTestId(browser, 'step-define').click();
      assert.equal(await exists(browser, '[data-testid="toast"]'), false, 'the notice followed the user to Define');
      await byTestId(browser, 'step-configure').click();
      // …and gone after a while by itself.
      await browser.waitUntil(async () => !(await exists(browser, '[data-testid="toast"]')), { ...WAIT, timeoutMsg: 'the notice stays' });
    });
  });
});
