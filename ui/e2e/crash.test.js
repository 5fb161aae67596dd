// When WebKit's web process dies under the studio (a crash in the engine, or the system's
// out-of-memory killer), the window loads its page again instead of staying blank.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { driverLog, openStudio, startDriver } from './driver.js';
import { coloursIn, decodePng } from './png.js';

const WAIT = { timeout: 30000 };
const RELOADED = /the window's web process ended \(Crashed\); loading the page again/;

/** @type {import('./driver.js').Driver} */
let driver;
before(async () => {
  driver = await startDriver();
});
after(() => driver?.stop());

/**
 * The processes called `name` of the user the studio runs as.
 * @param {string} name
 */
function processes(name) {
  const user = process.env.E2E_APP_UID ?? String(process.getuid?.() ?? 0);
  try {
    return execFileSync('pgrep', ['-u', user, '-x', name]).toString().trim().split('\n').filter(Boolean);
  } catch {
    // pgrep exits 1 when nothing matches.
    return [];
  }
}

/** The web processes of the user the studio runs as (the name as the kernel shortens it). */
const webProcesses = () => processes('WebKitWebProces');

/** The whole X screen as a picture, saved under SCREENSHOT_DIR. */
function screen() {
  const file = path.join(String(process.env.SCREENSHOT_DIR), 'crash-reloaded.png');
  execFileSync('import', ['-display', String(process.env.DISPLAY), '-window', 'root', '-depth', '8', `PNG24:${file}`]);
  return decodePng(readFileSync(file));
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resume) => setTimeout(resume, ms));

describe('genpack studio: a crashed web page', () => {
  it('loads the page again when the web process crashes', async () => {
    const before = processes('genpack-studio');
    const browser = await openStudio(driver, []);
    // The crash ends the WebDriver session, which then cannot close the window it opened.
    const studio = processes('genpack-studio').filter((pid) => !before.includes(pid));
    after(() => {
      for (const pid of studio) execFileSync('kill', [pid]);
    });
    await browser.setWindowSize(1280, 800).catch(() => {});
    await browser.$('[data-testid^="template-"]').waitForDisplayed(WAIT);
    const crashed = webProcesses();
    assert.ok(crashed.length > 0, 'no web process of the studio found');
    const logged = readFileSync(driverLog(), 'utf8').length;

    // What the engine's own checks do when they fail (a trap on an invalid opcode).
    for (const pid of crashed) execFileSync('kill', ['-ILL', pid]);

    // A new web process, the app's word for it, and the start page painted again.
    let said = '';
    let fresh = /** @type {string[]} */ ([]);
    let colours = 0;
    for (let waited = 0; waited < WAIT.timeout; waited += 500) {
      await sleep(500);
      said = readFileSync(driverLog(), 'utf8').slice(logged);
      fresh = webProcesses().filter((pid) => !crashed.includes(pid));
      if (!RELOADED.test(said) || fresh.length === 0) continue;
      const shot = screen();
      colours = coloursIn(shot, { x: 0, y: 0, width: Math.min(shot.width, 1280), height: Math.min(shot.height, 800) }).size;
      // A blank window has a handful of colours; the start page's icons and text hundreds.
      if (colours > 100) break;
    }
    assert.match(said, RELOADED, 'the studio did not say it loads the page again');
    assert.ok(fresh.length > 0, 'no new web process started');
    assert.ok(colours > 100, `the window stayed blank after the crash (${colours} colours on the screen)`);
  });
});
