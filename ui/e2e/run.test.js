// End-to-end test of the Build and Run steps: a real Debian build, then the image booted in
// QEMU inside the real studio window, its screen in noVNC and its serial console in xterm.js.
// Needs root, network to Debian's mirror (or a warm build cache) and QEMU; run with scripts/e2e.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appOwns, appRunsAsUser, byTestId, openStudio, retype, screenshot, startDriver, studioGone, windowGone } from './driver.js';
import { coloursIn, decodePng } from './png.js';

// The gallery shows the minimal appliance as one card; its ready-made flavour is debian-minimal.
const CARD = 'minimal';
const PROJECT = 'run-demo';
const VM_NAME = `${PROJECT}-x86_64`;
const WAIT = { timeout: 30000 };
// A Debian build with a cold download cache, and a boot under software emulation, take minutes.
const BUILD_WAIT = { timeout: 20 * 60 * 1000, interval: 2000 };
const BOOT_WAIT = { timeout: 10 * 60 * 1000, interval: 1000 };

/** @type {import('./driver.js').Driver} */
let driver;
let work = '';

/**
 * scripts/e2e gives the app a throw-away home; the download cache of the build is shared with
 * the user's own (set E2E_BUILD_CACHE to use another), so packages are not fetched again.
 */
function shareBuildCache() {
  const shared = process.env.E2E_BUILD_CACHE ?? path.join(os.userInfo().homedir, '.cache', 'genpack');
  const cacheHome = process.env.XDG_CACHE_HOME;
  // An app running as another user keeps its own cache, as that user's builds would.
  if (appRunsAsUser() || !cacheHome || !existsSync(shared)) return;
  const link = path.join(cacheHome, 'genpack');
  if (existsSync(link)) return;
  mkdirSync(cacheHome, { recursive: true });
  symlinkSync(shared, link);
}

/**
 * QEMU processes that boot the test's image, by pid.
 * @param {string} image
 */
function qemuProcesses(image) {
  const found = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('qemu-system') || cmdline.includes('/qemu-system')) {
      if (cmdline.includes(image) || cmdline.includes(`\0${VM_NAME},`) || cmdline.includes(`\0${VM_NAME}\0`)) found.push(Number(pid));
    }
  }
  return found;
}

/** The runtime folder genpack-vm gives the VM (see genpack_vm::runtime::base_dir). */
function runtimeDir() {
  // The app may run as another user than the tests, with its own runtime folder (scripts/e2e:
  // E2E_APP_UID, E2E_APP_RUNTIME_DIR).
  const uid = process.env.E2E_APP_UID ? Number(process.env.E2E_APP_UID) : process.getuid?.();
  const runtime = process.env.E2E_APP_UID ? process.env.E2E_APP_RUNTIME_DIR : process.env.XDG_RUNTIME_DIR;
  const base = runtime
    ? path.join(runtime, 'genpack/vm')
    : uid === 0
      ? '/run/genpack/vm'
      : `/tmp/genpack-${uid}/vm`;
  return path.join(base, VM_NAME);
}

/** @param {WebdriverIO.Browser} browser */
async function consoleText(browser) {
  try {
    return (await browser.$('[data-testid="vm-console"] .xterm-rows').getText()) ?? '';
  } catch (error) {
    if (windowGone(error)) throw studioGone('the console was read');
    // No console on the page yet.
    return '';
  }
}

/**
 * Waits until the serial console shows `pattern`; fails with what it shows otherwise.
 * @param {WebdriverIO.Browser} browser
 * @param {RegExp} pattern
 * @param {string} problem
 */
async function untilConsole(browser, pattern, problem) {
  // A loop of its own rather than waitUntil, which retries a failing read until its timeout:
  // a closed window fails the test at once, with the app's last output.
  const deadline = Date.now() + BOOT_WAIT.timeout;
  while (!pattern.test(await consoleText(browser))) {
    if (Date.now() > deadline) {
      await screenshot(browser, 'run-failure');
      assert.fail(`${problem}; the console shows:\n${await consoleText(browser)}`);
    }
    await browser.pause(BOOT_WAIT.interval);
  }
}

/**
 * Types on the serial console like a person: click the terminal, then the keys.
 * @param {WebdriverIO.Browser} browser
 * @param {string} text
 */
async function typeOnConsole(browser, text) {
  await byTestId(browser, 'vm-console').click();
  await typeKeys(browser, text);
  await browser.keys('Enter');
}

/**
 * Presses the keys of `text`, one WebDriver action per character: sent as one action
 * sequence, the second of two equal characters in a row was lost ("screen" arrived as
 * "scren").
 * @param {WebdriverIO.Browser} browser
 * @param {string} text
 */
async function typeKeys(browser, text) {
  for (const char of text) await browser.keys(char);
}

/**
 * Types on the guest's screen like a person: click the viewer, then the keys, then Enter.
 * @param {WebdriverIO.Browser} browser
 * @param {string} text
 */
async function typeOnScreen(browser, text) {
  await byTestId(browser, 'vm-screen-canvas').click();
  await typeKeys(browser, text);
  await browser.keys('Enter');
}

/**
 * Runs `command` on the serial console every few seconds until its output matches `pattern`.
 * @param {WebdriverIO.Browser} browser
 * @param {string} command
 * @param {RegExp} pattern
 * @param {string} problem
 */
async function untilGuestAnswers(browser, command, pattern, problem) {
  const deadline = Date.now() + BOOT_WAIT.timeout;
  let seen = '';
  while (Date.now() < deadline) {
    await typeOnConsole(browser, command);
    await browser.pause(3000);
    // The visible rows: the command's own line never matches, only what it printed.
    seen = await consoleText(browser);
    if (pattern.test(seen)) return;
  }
  await screenshot(browser, 'run-failure');
  assert.fail(`${problem}; the console shows:\n${seen}`);
}

/**
 * The build compiles genpack's boot programs with the user's Rust toolchain: point rustup and
 * cargo at the real home's, which the throw-away HOME would hide from the app.
 */
function shareRustToolchain() {
  const home = os.userInfo().homedir;
  for (const [variable, folder] of [
    ['RUSTUP_HOME', '.rustup'],
    ['CARGO_HOME', '.cargo'],
  ]) {
    if (!process.env[variable] && existsSync(path.join(home, folder))) process.env[variable] = path.join(home, folder);
  }
}

/**
 * The time a user waits, step by step: seconds since `start` for each mark, printed and kept
 * in test-artifacts/journey.json (docs/PERFORMANCE.md quotes it). Nothing is asserted on it.
 */
class Journey {
  constructor() {
    this.start = Date.now();
    /** @type {{ step: string, seconds: number }[]} */
    this.marks = [];
  }
  /** @param {string} step */
  mark(step) {
    const seconds = Math.round((Date.now() - this.start) / 100) / 10;
    this.marks.push({ step, seconds });
    console.log(`journey: ${step} at ${seconds} s`);
  }
}

/** @param {Record<string, unknown>} journeys */
function keepJourneys(journeys) {
  // SCREENSHOT_DIR is test-artifacts/screenshots (scripts/e2e).
  const folder = path.dirname(path.resolve(process.env.SCREENSHOT_DIR ?? 'test-artifacts/screenshots'));
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'journey.json'), `${JSON.stringify({ date: new Date().toISOString(), load: os.loadavg(), ...journeys }, null, 2)}\n`);
}

/**
 * Waits until the VM's own console log (not the viewer's rows, which keep an earlier run's
 * text) shows a login prompt.
 * @param {WebdriverIO.Browser} browser
 */
async function untilLoginInLog(browser) {
  const log = path.join(runtimeDir(), 'console.log');
  await browser.waitUntil(async () => existsSync(log) && /login:/.test(readFileSync(log, 'utf8')), {
    ...BOOT_WAIT,
    timeoutMsg: `no login prompt in ${log}`,
  });
}

/**
 * Gives the project a small web page on port 8000 (a socket-activated shell script, as any
 * appliance's service would be) and declares it in the definition's `ports`, so the Run
 * step's Connect area links to it on a forwarded port.
 * @param {string} project
 */
function addTestPage(project) {
  const files = path.join(project, 'files');
  const script = path.join(files, 'usr/local/bin/e2e-page');
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      '# Answers one HTTP request on the socket systemd hands over.',
      'while IFS= read -r line; do',
      "  case \"$line\" in ''|\"$(printf '\\r')\") break ;; esac",
      'done',
      "printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\n\\r\\nconnect-page-42\\n'",
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const units = path.join(files, 'etc/systemd/system');
  mkdirSync(units, { recursive: true });
  writeFileSync(path.join(units, 'e2e-page.socket'), '[Socket]\nListenStream=8000\nAccept=yes\n\n[Install]\nWantedBy=sockets.target\n');
  writeFileSync(
    path.join(units, 'e2e-page@.service'),
    '[Service]\nExecStart=/usr/local/bin/e2e-page\nStandardInput=socket\nStandardOutput=socket\n',
  );
  const definition = path.join(project, 'genpack.json5');
  const text = readFileSync(definition, 'utf8');
  const edited = text
    .replace('services: ["ssh",', 'services: ["e2e-page.socket", "ssh",')
    .replace('ports: [{ port: 22, name: "SSH" }],', 'ports: [{ port: 22, name: "SSH" }, { port: 8000, name: "Test page", web: "http" }],');
  assert.notEqual(edited, text, 'the definition names its services and ports as the template wrote them');
  writeFileSync(definition, edited);
}

/**
 * The first line a TCP server on 127.0.0.1:`port` sends, or '' when it sends none in time.
 * @param {number} port
 * @returns {Promise<string>}
 */
function firstLine(port) {
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = () => {
      socket.destroy();
      resolve(got.split('\n')[0].trim());
    };
    socket.setTimeout(5000, done);
    socket.on('data', (chunk) => {
      got += chunk.toString('latin1');
      if (got.includes('\n')) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

/**
 * A package typo is caught in Define, not by a failed build: with the package index the build
 * just downloaded, "ngnix" gets an error on its row with the close name; Build refuses it in
 * one sentence that leads back to the row, the command folded away; removing it clears both.
 * @param {WebdriverIO.Browser} browser
 * @param {string} file the project's genpack.json5
 */
async function catchPackageTypo(browser, file) {
  await byTestId(browser, 'step-define').click();
  const rows = '[data-testid="field-packages"] ol input';
  const count = await browser.$$(rows).length;
  const add = byTestId(browser, 'field-packages-new');
  await add.waitForDisplayed(WAIT);
  await add.setValue('ngnix');
  await browser.keys('Enter');
  await browser.waitUntil(async () => (await browser.$$(rows).length) === count + 1, WAIT);
  const message = browser.$('[data-testid="field-packages"] [data-testid="field-diagnostic"]');
  await message.waitForDisplayed({ ...WAIT, timeoutMsg: 'no message under the misspelt package' });
  const text = await message.getText();
  assert.match(text, /Debian bookworm has no package named ngnix/);
  assert.match(text, /did you mean nginx\?/);
  assert.equal(await byTestId(browser, 'packages-unchecked').isExisting(), false, 'the names were checked against the index');
  await screenshot(browser, 'define-package-typo');
  await byTestId(browser, 'save').click();
  await byTestId(browser, 'unsaved').waitForDisplayed({ ...WAIT, reverse: true });

  // Build refuses it before starting, in plain words, and leads back to the row.
  await byTestId(browser, 'step-build').click();
  await byTestId(browser, 'build-start').waitForEnabled(WAIT);
  await byTestId(browser, 'build-start').click();
  const cause = byTestId(browser, 'build-failure-cause');
  await cause.waitForDisplayed({ ...WAIT, timeoutMsg: 'the refused build names no cause' });
  assert.match(await cause.getText(), /^Debian bookworm has no package named ngnix\./);
  const details = byTestId(browser, 'build-failure-details');
  assert.equal(await details.getAttribute('open'), null, 'the command and log are folded away');
  await screenshot(browser, 'build-package-typo');
  await byTestId(browser, 'build-failure-field').click();
  await browser.waitUntil(
    async () => String(await browser.execute(() => /** @type {any} */ (globalThis).document.activeElement?.value ?? '')) === 'ngnix',
    { ...WAIT, timeoutMsg: 'Show it in Define did not reach the misspelt row' },
  );
  await browser.$('[data-testid="field-packages"] button[aria-label="Remove ngnix"]').click();
  await browser.waitUntil(async () => (await browser.$$(rows).length) === count, WAIT);
  await byTestId(browser, 'save').click();
  await byTestId(browser, 'unsaved').waitForDisplayed({ ...WAIT, reverse: true });
  assert.doesNotMatch(readFileSync(file, 'utf8'), /ngnix/, 'the misspelt package is gone from the file');
}

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-run-'));
  shareBuildCache();
  shareRustToolchain();
  driver = await startDriver();
});

after(() => driver?.stop());

describe('genpack studio: build and run', () => {
  it('builds the Debian minimal template, boots it, shows its screen and console, and stops it', async () => {
    const parent = path.join(work, 'projects');
    mkdirSync(parent, { recursive: true });
    appOwns(work);
    const image = path.join(parent, PROJECT, `${VM_NAME}.squashfs`);
    const browser = await openStudio(driver, []);
    try {
      // The size of a small laptop's screen.
      await browser.setWindowSize(1280, 800).catch(() => {});
      await byTestId(browser, `template-${CARD}`).waitForDisplayed(WAIT);
      const first = new Journey();
      await byTestId(browser, `template-${CARD}`).click();
      await byTestId(browser, 'flavour-ready').click();
      await byTestId(browser, 'start-create').click();
      await retype(browser, 'project-name', PROJECT);
      await retype(browser, 'project-parent', parent);
      await byTestId(browser, 'create-project').click();
      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);
      first.mark('project created');
      addTestPage(path.join(parent, PROJECT));
      appOwns(path.join(parent, PROJECT));
      // Open the project again so the studio reads the changed definition.
      await byTestId(browser, 'home').click();
      await browser.$(`button.recent[title$="/${PROJECT}"]`).click();
      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);

      // Build. A Debian project has no emerge to tune: no Gentoo settings on the page.
      await byTestId(browser, 'step-build').click();
      await byTestId(browser, 'build-start').waitForEnabled(WAIT);
      assert.equal(await byTestId(browser, 'build-settings').isExisting(), false, 'Gentoo build settings shown for a Debian project');
      await byTestId(browser, 'build-start').click();
      await byTestId(browser, 'build-cancel').waitForEnabled(WAIT);
      await browser.waitUntil(
        async () => (await byTestId(browser, 'build-result').isExisting()) || (await byTestId(browser, 'build-failure').isExisting()),
        { ...BUILD_WAIT, timeoutMsg: 'the build neither finished nor failed' },
      );
      if (await byTestId(browser, 'build-failure').isExisting()) {
        assert.fail(`the build failed: ${await byTestId(browser, 'build-failure').getText()}`);
      }
      first.mark('built');
      assert.match(await byTestId(browser, 'build-result').getText(), new RegExp(`${VM_NAME}\\.squashfs`));
      assert.ok(existsSync(image), `${image} was written`);
      for (const phase of ['lower', 'upper', 'pack']) {
        assert.match(await byTestId(browser, `phase-${phase}`).getText(), /done/, `phase ${phase} is done`);
      }
      // What the build was doing is not left standing once it is done, and it speaks of the
      // base layer, never of a "lower" one.
      assert.equal(await byTestId(browser, 'build-note').isExisting(), false, 'a build note stayed after the build');
      assert.doesNotMatch(await byTestId(browser, 'build-step').getText(), /lower layer|about 0 s left/);
      await screenshot(browser, 'build-panel');
      await catchPackageTypo(browser, path.join(parent, PROJECT, 'genpack.json5'));

      // Flash knows the image just built, without reopening the project.
      await byTestId(browser, 'step-flash').click();
      await browser.waitUntil(async () => (await byTestId(browser, 'flash-image-path').isExisting()), {
        ...WAIT,
        timeoutMsg: 'Flash still says there is no image after the build',
      });
      assert.equal(await byTestId(browser, 'flash-image-path').getText(), image);

      // Run.
      await byTestId(browser, 'step-run').click();
      await byTestId(browser, 'vm-start').waitForEnabled(WAIT);
      await byTestId(browser, 'vm-start').click();
      await browser.waitUntil(async () => (await byTestId(browser, 'vm-state').getText()) === 'Running', {
        ...BOOT_WAIT,
        timeoutMsg: 'the VM did not start',
      });
      assert.match(await byTestId(browser, 'vm-status').getText(), /(KVM|TCG).*MiB/);
      await browser.$('[data-testid="vm-screen"][data-connected="true"]').waitForExist({ ...WAIT, timeoutMsg: 'noVNC did not connect' });

      // The serial console reaches the login prompt; log in as the admin (no password).
      await untilConsole(browser, /login:/, 'no login prompt on the serial console');
      first.mark('login prompt');
      // At 1280x800 the prompt is in view without scrolling the page.
      const inView = JSON.parse(String(await browser.execute(() => {
        // Runs in the page.
        const page = /** @type {any} */ (globalThis);
        const rows = [...page.document.querySelectorAll('[data-testid="vm-console"] .xterm-rows > div')];
        const prompt = rows.reverse().find((/** @type {any} */ row) => /login:/.test(row.textContent));
        const pane = page.document.querySelector('[data-testid="run-step"]');
        return JSON.stringify({ bottom: prompt?.getBoundingClientRect().bottom ?? 1e9, height: page.innerHeight, scrolled: pane.scrollTop, overflow: pane.scrollHeight - pane.clientHeight });
      })));
      assert.ok(inView.bottom <= inView.height, `the login prompt is below the window: ${JSON.stringify(inView)}`);
      assert.equal(inView.scrolled, 0, 'the page had to scroll');
      await screenshot(browser, 'run-login-prompt');

      // Connect: the SSH command on the forwarded port, the declared web page as a link, and
      // how to log in on the console; both ports really answer.
      const ssh = await byTestId(browser, 'vm-connect-ssh-command');
      await ssh.waitForDisplayed({ ...WAIT, timeoutMsg: 'the Connect area shows no SSH command' });
      const command = await ssh.getText();
      const sshPort = Number(/^ssh -p (\d+) admin@127\.0\.0\.1$/.exec(command)?.[1]);
      assert.ok(sshPort > 0, `SSH command: ${command}`);
      assert.match(await byTestId(browser, 'vm-connect-ssh-advice').getText(), /No SSH key is set.*Configure/);
      const link = await byTestId(browser, 'vm-connect-web-link');
      const url = (await link.getAttribute('href')) ?? '';
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.equal(await link.getText(), url);
      assert.match(await byTestId(browser, 'vm-connect-web').getText(), /Test page/);
      assert.notEqual(Number(new URL(url).port), sshPort, 'the web page has a port of its own');
      assert.match(await byTestId(browser, 'vm-connect-console').getText(), /Type admin at the login prompt/);
      let banner = '';
      await browser.waitUntil(async () => /^SSH-2\.0-/.test((banner = await firstLine(sshPort))), {
        ...BOOT_WAIT,
        timeoutMsg: `port ${sshPort} does not answer as SSH (last: ${JSON.stringify(banner)})`,
      });
      let page = '';
      await browser.waitUntil(
        async () => {
          page = await fetch(url, { signal: AbortSignal.timeout(10000) })
            .then((response) => response.text())
            .catch((error) => String(error));
          return page.includes('connect-page-42');
        },
        { ...BOOT_WAIT, timeoutMsg: `${url} does not serve the test page (last: ${JSON.stringify(page)})` },
      );
      await screenshot(browser, 'run-connect');
      await typeOnConsole(browser, 'admin');
      // Logging in starts a user session: slow under software emulation.
      await untilConsole(browser, /Password:\s*$|\$\s*$/m, 'no answer to the login');
      if (/Password:\s*$/m.test(await consoleText(browser))) await browser.keys('Enter');
      await untilConsole(browser, /\$\s*$/m, 'no shell prompt after the login');
      await typeOnConsole(browser, 'echo studio-$[6*7]');
      await untilConsole(browser, /studio-42/, 'the shell did not answer on the serial console');

      // The keyboard reaches the guest through the screen: log in on its first console by
      // typing on the viewer, run a command there, and read what it wrote back over the
      // serial console.
      assert.equal(await byTestId(browser, 'vm-keys-unreachable').isExisting(), false, 'the studio says keys cannot reach the guest');
      await typeOnScreen(browser, 'admin');
      await browser.pause(3000);
      // No password: an empty answer if the login asks for one (an empty command otherwise).
      await typeOnScreen(browser, '');
      await untilGuestAnswers(browser, 'who', /admin\s+tty1/, 'typing on the screen did not log in on tty1');
      // WebDriver presses "$" or ">" without Shift, which a real keyboard would hold: keep to
      // unshifted keys here ("Type clipboard" below sends Shift itself).
      await typeOnScreen(browser, 'touch /tmp/viaview-42');
      await untilGuestAnswers(browser, 'ls /tmp', /viaview-42/, 'a command typed on the screen did not run');

      // "Type clipboard" types on the screen too.
      await byTestId(browser, 'vm-type-clipboard').click();
      const box = byTestId(browser, 'vm-type-text');
      await box.waitForDisplayed(WAIT);
      const pasted = 'echo pasted-$[7*6] > /tmp/from-clipboard\n';
      // Put in the box as a paste does (WebDriver's typed "\n" does not reach a textarea).
      await browser.execute((text) => {
        // Runs in the page.
        const area = /** @type {any} */ (globalThis).document.querySelector('[data-testid="vm-type-text"]');
        area.value = text;
        area.dispatchEvent(new Event('input', { bubbles: true }));
      }, pasted);
      assert.equal(await box.getValue(), pasted, 'the text to type, with its line end');
      await byTestId(browser, 'vm-type-send').click();
      // The console's rows come back joined without line ends; only the output names pasted-42
      // (the command typed was echo pasted-$[7*6]).
      await untilGuestAnswers(browser, 'cat /tmp/from-clipboard', /pasted-42/, '"Type clipboard" did not reach the screen');

      // The guest's screen is painted in the viewer: more than one colour in its region.
      const region = await byTestId(browser, 'vm-screen-canvas');
      const { x, y } = await region.getLocation();
      const { width, height } = await region.getSize();
      const ratio = Number(await browser.execute('return window.devicePixelRatio || 1')) || 1;
      await browser.waitUntil(
        async () => {
          const shot = decodePng(Buffer.from(await browser.takeScreenshot(), 'base64'));
          const rect = { x: Math.round(x * ratio), y: Math.round(y * ratio), width: Math.round(width * ratio), height: Math.round(height * ratio) };
          const colours = [...coloursIn(shot, rect).values()].sort((a, b) => b - a);
          const total = colours.reduce((sum, count) => sum + count, 0);
          // Text on the guest's console: pixels besides the background, but not the overlay.
          return colours.length >= 2 && total - colours[0] >= 50;
        },
        { ...BOOT_WAIT, timeoutMsg: 'the viewer shows no guest pixels' },
      );
      await screenshot(browser, 'run-panel');

      // The guest's own screen, read over VNC by `genpack vm screenshot` (the same reader the
      // studio's thumbnails use), shows text too.
      const guestShot = path.join(work, 'guest-screen.png');
      // As the user the app runs as (scripts/e2e sets GENPACK_BIN): the VM is that user's.
      execFileSync(process.env.GENPACK_BIN ?? path.join(path.dirname(process.env.STUDIO_BIN ?? ''), 'genpack'), ['vm', 'screenshot', VM_NAME, '--output', guestShot]);
      const guest = decodePng(readFileSync(guestShot));
      assert.ok(guest.width >= 640 && guest.height >= 400, `guest screen ${guest.width}x${guest.height}`);
      const guestColours = [...coloursIn(guest, { x: 0, y: 0, width: guest.width, height: guest.height }).values()].sort((a, b) => b - a);
      const guestTotal = guestColours.reduce((sum, count) => sum + count, 0);
      assert.ok(guestColours.length >= 2 && guestTotal - guestColours[0] >= 50, 'the guest screen read over VNC shows no text');

      // Stop: the power button; the first stop keeps the screen as the project's picture.
      await byTestId(browser, 'vm-stop').click();
      await browser.waitUntil(async () => (await byTestId(browser, 'vm-state').getText()) === 'Stopped', {
        timeout: 3 * 60 * 1000,
        interval: 1000,
        timeoutMsg: 'the VM did not stop',
      });
      assert.ok(existsSync(path.join(parent, PROJECT, 'work', 'thumbnail.png')), 'the thumbnail was saved');
      await byTestId(browser, 'vm-thumbnail').waitForDisplayed(WAIT);
      assert.deepEqual(qemuProcesses(image), [], 'no QEMU is left running');
      assert.ok(!existsSync(runtimeDir()), `${runtimeDir()} was removed`);

      // What a user does next: change one file under files/, Build, Run, wait for the login.
      const motd = path.join(parent, PROJECT, 'files', 'etc', 'motd');
      mkdirSync(path.dirname(motd), { recursive: true });
      writeFileSync(motd, 'changed in the studio journey\n');
      appOwns(path.dirname(motd));
      await byTestId(browser, 'step-build').click();
      await byTestId(browser, 'build-start').waitForEnabled(WAIT);
      // Before starting, the estimate from this project's last build.
      await byTestId(browser, 'build-estimate').waitForDisplayed(WAIT);
      assert.match(await byTestId(browser, 'build-estimate').getText(), /^A build that reuses the base layer takes about .*, going by this project.s builds on this computer\.$/);

      // A cancelled build is no failure: the previous image stays, and the page says so.
      const before = statSync(image).mtimeMs;
      await byTestId(browser, 'build-start').click();
      await byTestId(browser, 'build-cancel').waitForEnabled(WAIT);
      await byTestId(browser, 'build-cancel').click();
      await browser.waitUntil(
        async () => (await byTestId(browser, 'build-cancelled').isExisting()) || (await byTestId(browser, 'build-failure').isExisting()) || (await byTestId(browser, 'build-result').isExisting()),
        { ...BUILD_WAIT, timeoutMsg: 'the cancelled build did not end' },
      );
      if (!(await byTestId(browser, 'build-result').isExisting())) {
        assert.equal(await byTestId(browser, 'build-failure').isExisting(), false, 'the cancel shows as a failure');
        assert.match(await byTestId(browser, 'build-cancelled').getText(), /^Cancelled — your previous image is kept\./);
        assert.doesNotMatch(await byTestId(browser, 'build-step').getText(), /about 0 s left/);
        assert.equal(statSync(image).mtimeMs, before, 'the previous image was changed');
        await screenshot(browser, 'build-cancelled');
      }

      const change = new Journey();
      await byTestId(browser, 'build-start').click();
      await browser.waitUntil(
        async () =>
          (await byTestId(browser, 'build-failure').isExisting()) ||
          ((await byTestId(browser, 'build-result').isExisting()) && statSync(image).mtimeMs > change.start),
        { ...BUILD_WAIT, timeoutMsg: 'the build after a files/ change neither finished nor failed' },
      );
      if (await byTestId(browser, 'build-failure').isExisting()) {
        assert.fail(`the build after a files/ change failed: ${await byTestId(browser, 'build-failure').getText()}`);
      }
      change.mark('built');
      await byTestId(browser, 'step-run').click();
      await byTestId(browser, 'vm-start').waitForEnabled(WAIT);
      const fromTree = await byTestId(browser, 'vm-boot-tree').isSelected().catch(() => false);
      await byTestId(browser, 'vm-start').click();
      await untilLoginInLog(browser);
      change.mark(fromTree ? 'login prompt (image tree)' : 'login prompt (packed image)');
      keepJourneys({ template_to_login: first.marks, files_change_to_login: change.marks });
      await byTestId(browser, 'vm-force-stop').click();
      await browser.waitUntil(async () => (await byTestId(browser, 'vm-state').getText()) === 'Stopped', {
        timeout: 60 * 1000,
        interval: 1000,
        timeoutMsg: 'the VM did not stop after Force stop',
      });
    } finally {
      // Whatever happened, leave nothing running.
      for (const pid of qemuProcesses(image)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await browser.deleteSession().catch(() => {});
    }
  });
});
