// End-to-end test of a Gentoo template as a first-time user meets it: the card and the details
// say what a Gentoo build needs and offer the ready-made flavour; a build whose mirror cannot
// be reached says which host and which setting to change. Run it with scripts/e2e.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, byTestId, openStudio, retype, screenshot, startDriver } from './driver.js';

const WAIT = { timeout: 30000 };
// The minimal appliance's card pairs debian-minimal (ready-made) with minimal (compiled).
const CARD = 'minimal';
// `.invalid` never resolves (RFC 2606): the mirror a user mistyped, or a machine offline.
const UNREACHABLE = 'http://mirror.genpack.invalid/gentoo/';

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-gentoo-'));
  driver = await startDriver();
});

after(() => driver?.stop());

describe('genpack studio: a Gentoo template', () => {
  it('says what a Gentoo build needs, offers the ready-made flavour, and names an unreachable mirror', async () => {
    appOwns(work);
    const browser = await openStudio(driver, []);
    try {
      // The card: both flavours, and what the compiled one needs here.
      const needsLine = byTestId(browser, `gentoo-needs-${CARD}`);
      await needsLine.waitForDisplayed({ ...WAIT, timeoutMsg: 'the card does not say what a Gentoo build needs' });
      const line = await needsLine.getText();
      assert.match(line, /MB download|package sources/);
      assert.match(line, /about \d+ (h|min)/);
      assert.match(line, /distfiles\.gentoo\.org reachable|reachable/);
      await needsLine.scrollIntoView();
      await screenshot(browser, 'gallery-gentoo-needs');

      // The details: pick the compiled flavour; the needs are spelt out with the way back.
      await byTestId(browser, `template-${CARD}`).click();
      await byTestId(browser, 'flavour-compiled').click();
      const needs = byTestId(browser, 'gentoo-needs');
      await needs.waitForDisplayed(WAIT);
      const text = await needs.getText();
      assert.match(text, /Downloads: (about \d+ MB for the base|the base is downloaded already)/);
      assert.match(text, /Time: about .* first build on this machine/);
      assert.match(text, /Network: the Gentoo mirror .* must be reachable/);
      await screenshot(browser, 'template-gentoo-needs');
      await byTestId(browser, 'use-ready-made').click();
      await needs.waitForDisplayed({ ...WAIT, reverse: true, timeoutMsg: 'the ready-made flavour still shows Gentoo needs' });
      assert.equal(await byTestId(browser, 'flavour-ready').isSelected(), true, 'the ready-made flavour is picked');

      // A Gentoo project whose mirror cannot be reached: the failure names the host and the
      // setting, in plain words, the command and log folded away.
      await byTestId(browser, 'flavour-compiled').click();
      await byTestId(browser, 'start-create').click();
      const parent = path.join(work, 'projects');
      mkdirSync(parent, { recursive: true });
      appOwns(parent);
      await retype(browser, 'project-name', 'gentoo-box');
      await retype(browser, 'project-parent', parent);
      await byTestId(browser, 'create-project').click();
      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);
      await byTestId(browser, 'step-build').click();
      await browser.$('[data-testid="build-settings"] summary').click();
      await retype(browser, 'build-mirror', UNREACHABLE);
      await byTestId(browser, 'build-start').click();
      const cause = byTestId(browser, 'build-failure-cause');
      await cause.waitForDisplayed({ timeout: 5 * 60 * 1000, timeoutMsg: 'the build did not fail with a cause' });
      const sentence = await cause.getText();
      assert.match(sentence, /^Could not reach mirror\.genpack\.invalid: its name could not be looked up/);
      assert.match(sentence, /Set another Gentoo mirror \(Gentoo build settings/);
      assert.equal(await byTestId(browser, 'build-failure-details').getAttribute('open'), null, 'the log is folded away');
      await byTestId(browser, 'build-failure').scrollIntoView();
      await screenshot(browser, 'build-gentoo-unreachable');
    } finally {
      await browser.deleteSession().catch(() => {});
    }
  });
});
