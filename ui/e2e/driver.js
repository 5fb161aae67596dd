// Starts tauri-driver and opens WebDriver sessions on the real studio binary.
// scripts/e2e sets the environment: STUDIO_BIN, TAURI_DRIVER, SCREENSHOT_DIR, DISPLAY and a
// throw-away HOME / XDG_CONFIG_HOME; when the app runs as an unprivileged user, also
// E2E_APP_UID / E2E_APP_GID and the test services (DBUS_SYSTEM_BUS_ADDRESS, E2E_TESTBED_*).

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { remote } from 'webdriverio';

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run the end-to-end tests through scripts/e2e`);
  return value;
}

/** A TCP port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** @param {number} port */
async function waitForPort(port) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resume) => setTimeout(resume, 100));
  }
  throw new Error(`tauri-driver did not listen on port ${port}`);
}

/** The file tauri-driver, WebKitWebDriver and the studio write their output to. */
export function driverLog() {
  return path.join(required('SCREENSHOT_DIR'), '..', 'tauri-driver.log');
}

/**
 * Whether a WebDriver error means the studio's window is gone: the app exited or crashed,
 * and every later command would fail the same way.
 * @param {unknown} error
 */
export function windowGone(error) {
  return /invalid session id|no such window|ECONNREFUSED/i.test(String(error));
}

/**
 * The error to fail with once the studio's window is gone, with the end of what the app wrote.
 * @param {string} during what the test was waiting for
 */
export function studioGone(during) {
  return new Error(
    `the studio's window closed while ${during}: the app exited or crashed. The end of its output (${driverLog()}):\n${driverOutput()}`,
  );
}

/**
 * The processes started by `pid`, at any depth (tauri-driver starts WebKitWebDriver, which
 * starts the studio).
 * @param {number} pid
 */
function descendants(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid=']).toString().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || !parent) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found = [];
  const next = [pid];
  while (next.length > 0) {
    for (const child of children.get(/** @type {number} */ (next.pop())) ?? []) {
      found.push(child);
      next.push(child);
    }
  }
  return found;
}

/** The end of what tauri-driver, WebKitWebDriver and the studio wrote. */
function driverOutput() {
  try {
    return readFileSync(driverLog(), 'utf8').trimEnd().split('\n').slice(-30).join('\n') || '(nothing)';
  } catch {
    return '(no output file)';
  }
}

/**
 * A running tauri-driver.
 * @typedef {{ port: number, stop: () => void, restart: () => Promise<void> }} Driver
 */

/**
 * Starts tauri-driver.
 * @returns {Promise<Driver>}
 */
export async function startDriver() {
  // The driver and the apps it starts write to a log file, never to the test runner's pipes:
  // a window that outlives its session must not keep the runner waiting for end of output.
  const logDir = required('SCREENSHOT_DIR');
  mkdirSync(logDir, { recursive: true });
  const log = openSync(driverLog(), 'a');
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  const driver = {
    port: 0,
    stop: () => {
      if (child && child.exitCode === null) child.kill('SIGTERM');
    },
    // Ends this driver with WebKitWebDriver and every window they opened, and starts a new one.
    restart: async () => {
      if (child?.pid && child.exitCode === null) {
        for (const pid of descendants(child.pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        child.kill('SIGKILL');
      }
      await start();
    },
  };
  async function start() {
    driver.port = await freePort();
    const nativePort = await freePort();
    child = spawn(required('TAURI_DRIVER'), ['--port', String(driver.port), '--native-port', String(nativePort)], {
      stdio: ['ignore', log, log],
    });
    await waitForPort(driver.port);
  }
  await start();
  return driver;
}

/**
 * How long the driver may take to answer a request, opening a window included (seconds on an
 * idle machine, minutes on a loaded one). It is webdriverio's default, named here because a
 * window that is not open when it runs out is asked for again.
 */
const ANSWER_TIMEOUT_MS = 120000;

/**
 * Opens the studio in a new window.
 * @param {Driver} driver
 * @param {string[]} args command-line arguments for genpack-studio
 */
export async function openStudio(driver, args = []) {
  const options = () => ({
    hostname: '127.0.0.1',
    port: driver.port,
    logLevel: /** @type {const} */ ('error'),
    connectionRetryCount: 0,
    connectionRetryTimeout: ANSWER_TIMEOUT_MS,
    capabilities: {
      'tauri:options': { application: required('STUDIO_BIN'), args },
      'wdio:enforceWebDriverClassic': true,
    },
  });
  let browser;
  try {
    browser = await remote(options());
  } catch (error) {
    // On a loaded machine the driver has dropped the connection while the window started
    // (UND_ERR_SOCKET), or never answered (UND_ERR_HEADERS_TIMEOUT). Whether a window opened
    // then is unknown: a new driver, with that window closed, opens the one the test gets.
    if (!/UND_ERR_SOCKET|UND_ERR_HEADERS_TIMEOUT/.test(String(error))) throw error;
    console.error(`openStudio: no window after the first try (${error}); starting a new driver. Its output so far:\n${driverOutput()}`);
    await driver.restart();
    try {
      browser = await remote(options());
    } catch (again) {
      throw new Error(`the studio's window did not open twice (${again}). The end of the driver's output (${driverLog()}):\n${driverOutput()}`, { cause: again });
    }
  }
  await browser.setTimeout({ implicit: 0 });
  return browser;
}

/**
 * Saves a screenshot of the window under SCREENSHOT_DIR.
 * @param {WebdriverIO.Browser} browser
 * @param {string} name
 */
export async function screenshot(browser, name) {
  const dir = required('SCREENSHOT_DIR');
  mkdirSync(dir, { recursive: true });
  const theme = process.env.STUDIO_THEME === 'dark' ? '-dark' : '';
  // Only the picture waits for painting to settle; no assertion depends on this pause.
  await browser.pause(400);
  await browser.saveScreenshot(path.join(dir, `${name}${theme}.png`));
}

/**
 * The element for a data-testid.
 * @param {WebdriverIO.Browser} browser
 * @param {string} id
 */
export function byTestId(browser, id) {
  return browser.$(`[data-testid="${id}"]`);
}

/**
 * Replaces the text of an input like a person: select all, then type (nothing typed clears it).
 * Keys go one at a time, as WebKit's driver drops keys from a long action sequence, each to
 * the field itself. The field must then hold exactly `text`; a try that the driver garbled is
 * typed again, and after three the test fails naming the field and what it holds: a test
 * never goes on with a path it did not type.
 * @param {WebdriverIO.Browser} browser
 * @param {string | { css: string }} field the input's data-testid, or a CSS selector for it
 * @param {string} text
 */
export async function retype(browser, field, text) {
  const input = await (typeof field === 'string' ? byTestId(browser, field) : browser.$(field.css)).getElement();
  const name = typeof field === 'string' ? field : field.css;
  await input.waitForDisplayed({ timeout: 30000 });
  let held = '';
  for (let attempt = 0; attempt < 3; attempt += 1) {
    await input.click();
    // A click does not always move the focus in a window the X server has not focused (other
    // windows of earlier tests): give the field the focus and select its text as the click
    // and Ctrl+A would.
    await browser.execute('arguments[0].focus(); arguments[0].select();', input);
    // select() leaves a number field as it is; Ctrl+A selects there too.
    await browser.keys(['Control', 'a']);
    await browser.keys('Control');
    // Keys sent to the field itself, so none can land elsewhere.
    if (!text) await input.addValue('\uE017');
    for (const key of text) await input.addValue(key);
    held = await input.getValue();
    if (held === text) return;
  }
  throw new Error(`${name} holds ${JSON.stringify(held)}, not what was typed (${JSON.stringify(text)})`);
}

/**
 * Gives `dir` and everything in it to the user the studio runs as (scripts/e2e runs the app
 * as an unprivileged user when started as root); nothing to do when the app runs as the tests do.
 * @param {string} dir
 */
export function appOwns(dir) {
  const uid = Number(process.env.E2E_APP_UID);
  const gid = Number(process.env.E2E_APP_GID);
  if (!process.env.E2E_APP_UID || !Number.isInteger(uid) || !Number.isInteger(gid)) return;
  chmodSync(dir, 0o755);
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
}

/** Whether the studio runs as another (unprivileged) user than the tests. */
export function appRunsAsUser() {
  return Boolean(process.env.E2E_APP_UID);
}

/**
 * After a loop device was attached: makes the test's udisksd see it (no udevd announces new
 * devices on these machines, so scripts/e2e's genpack-testbed restarts udisksd on SIGHUP and
 * appends UDISKS_RESTARTED=<n> to its file when udisksd is back). Nothing to do without it.
 */
export async function udisksSeesNewDevices() {
  const pid = Number(process.env.E2E_TESTBED_PID);
  const file = process.env.E2E_TESTBED_ENV;
  if (!pid || !file) return;
  const restarts = () => (readFileSync(file, 'utf8').match(/^UDISKS_RESTARTED=/gm) ?? []).length;
  const before = restarts();
  process.kill(pid, 'SIGHUP');
  // A readiness wait for a daemon, not a measurement.
  for (let attempt = 0; attempt < 600; attempt++) {
    if (restarts() > before) return;
    await new Promise((resume) => setTimeout(resume, 100));
  }
  throw new Error('udisksd did not come back after the restart');
}
