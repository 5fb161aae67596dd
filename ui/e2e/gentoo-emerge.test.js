// End-to-end test of a Gentoo build from the studio with the real emerge: a project of the local
// test mirror's ebuild tree (scripts/make-test-gentoo, served over HTTP on 127.0.0.1), built with
// the Gentoo build settings a user sets in the Build step (mirror, parallel jobs). The studio
// says how many packages were compiled and how many came from binary packages, and emerge ran
// with the jobs asked for. Run it with scripts/e2e; it takes the mirror named by
// E2E_GENTOO_MIRROR (scripts/e2e finds the one the Rust tests built) or builds one.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { appOwns, byTestId, openStudio, retype, screenshot, startDriver } from './driver.js';

const WAIT = { timeout: 30000 };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Everything compiled from source on two emulated-free cores: a few minutes, with room.
const BUILD_WAIT = 20 * 60 * 1000;
const BASE_USE = '-audit -btrfs -cron -logrotate -sshd -strace -tcpdump -vi -wireguard -xfs';

/** @type {import('./driver.js').Driver} */
let driver;
/** @type {http.Server} */
let mirrorServer;
let mirrorUrl = '';
let work = '';

/** The local Gentoo mirror: the one scripts/e2e found, else one made here (needs root). */
function localMirror() {
  const named = process.env.E2E_GENTOO_MIRROR;
  if (named && existsSync(path.join(named, 'BUILD-INFO'))) return named;
  const made = path.join(work, 'gentoo-mirror');
  execFileSync(path.join(ROOT, 'scripts/make-test-gentoo'), [made], { stdio: 'inherit' });
  return made;
}

/**
 * Serves `dir` read-only over HTTP on 127.0.0.1 (GET and HEAD), as a Gentoo mirror would.
 * @param {string} dir
 * @returns {Promise<{ server: http.Server, url: string }>}
 */
function serve(dir) {
  const server = http.createServer((request, response) => {
    const relative = decodeURIComponent(new URL(request.url ?? '/', 'http://mirror').pathname);
    const file = path.join(dir, path.normalize(relative));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'Content-Length': statSync(file).size });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}/` });
    });
  });
}

/**
 * The project: app-misc/hello of the mirror's tree, whose unit the project's package-script
 * enables.
 * @param {string} dir
 */
function writeProject(dir) {
  const script = path.join(dir, 'overlay/package-scripts/app-misc/hello/50-enable');
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(script, '#!/bin/sh\nset -eu\nsystemctl enable hello.service\n');
  chmodSync(script, 0o755);
  writeFileSync(
    path.join(dir, 'genpack.json5'),
    `{
    name: "hello-gentoo",
    packages: ["app-misc/hello"],
    use: { "genpack/base": "${BASE_USE}" },
    license: { "app-misc/hello": "MIT" },
}
`,
  );
}

before(async () => {
  work = mkdtempSync(path.join(process.env.E2E_TMP ?? os.tmpdir(), 'studio-emerge-'));
  ({ server: mirrorServer, url: mirrorUrl } = await serve(localMirror()));
  driver = await startDriver();
});

after(() => {
  driver?.stop();
  mirrorServer?.close();
  // The app user's Gentoo cache (the test tree's stage3, packages and merge times) would make
  // the later tests' Gentoo estimates and downloads those of a user who has built before.
  if (process.env.XDG_CACHE_HOME) rmSync(path.join(process.env.XDG_CACHE_HOME, 'genpack', 'gentoo'), { recursive: true, force: true });
});

describe('genpack studio: a Gentoo build with real emerge', () => {
  it('builds with the mirror and jobs from the build settings and counts compiled packages', async () => {
    const project = path.join(work, 'hello-gentoo');
    writeProject(project);
    appOwns(work);
    const browser = await openStudio(driver, [project]);
    try {
      await byTestId(browser, 'project-title').waitForDisplayed(WAIT);
      await byTestId(browser, 'step-build').click();
      await browser.$('[data-testid="build-settings"] summary').click();
      await retype(browser, 'build-mirror', mirrorUrl);
      await retype(browser, 'build-jobs', '2');
      await screenshot(browser, 'build-gentoo-settings');
      await byTestId(browser, 'build-start').waitForEnabled(WAIT);
      await byTestId(browser, 'build-start').click();
      await browser.waitUntil(
        async () => (await byTestId(browser, 'build-result').isExisting()) || (await byTestId(browser, 'build-failure').isExisting()),
        { timeout: BUILD_WAIT, interval: 2000, timeoutMsg: 'the Gentoo build did not finish' },
      );
      if (await byTestId(browser, 'build-failure').isExisting()) {
        assert.fail(`the build failed: ${await byTestId(browser, 'build-failure').getText()}`);
      }
      assert.match(await byTestId(browser, 'build-result').getText(), /hello-gentoo-x86_64\.squashfs/);

      // Every package compiled (the cache of this user was empty), none from a binhost.
      const counts = await byTestId(browser, 'build-package-counts').getText();
      const match = /^(\d+) compiled · 0 from binary packages \(0 downloaded\)$/.exec(counts);
      assert.ok(match, `unexpected package counts: ${counts}`);
      assert.ok(Number(match[1]) >= 10, `only ${match[1]} packages compiled`);
      // What the next build costs: the base layer is kept, so only the image contents.
      assert.match(await byTestId(browser, 'build-estimate').getText(), /^A build that reuses the base layer takes about /);
      await byTestId(browser, 'build-result').scrollIntoView();
      await screenshot(browser, 'build-gentoo-emerged');

      // emerge ran with the jobs from the settings, and the package-script enabled the unit.
      const lowerLog = readFileSync(path.join(project, 'work/x86_64/logs/lower.log'), 'utf8');
      assert.match(lowerLog, /emerge .*--jobs=2/, 'emerge did not get --jobs=2');
      const listing = execFileSync('unsquashfs', ['-lls', path.join(project, 'hello-gentoo-x86_64.squashfs')], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      assert.match(listing, /multi-user\.target\.wants\/hello\.service/, 'the package-script did not enable hello.service');

      // The settings are kept for the user's next Gentoo build: put them back, so the tests
      // after this one meet the defaults (the mirror served here goes away).
      for (const id of ['build-mirror', 'build-jobs']) await retype(browser, id, '');
      assert.equal(await byTestId(browser, 'build-mirror').getValue(), '');
    } finally {
      await browser.deleteSession().catch(() => {});
    }
  });
});
