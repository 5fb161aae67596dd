// What the stick walks (flash, flash-many) share: a command's output, a genpack image small
// enough to write quickly, and sparse files that loop devices turn into sticks.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A command's standard output. @param {string} command @param {string[]} args */
export function run(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * A small but valid genpack image in `file`, made from a tree in `work`: kernel and initramfs
 * placeholders, the metadata the installer checks (`artifact`), and 96 MiB of incompressible
 * payload, so a write takes long enough to watch and fills a small stick.
 * @param {string} work @param {string} file @param {string} artifact
 */
export function makeImage(work, file, artifact) {
  const tree = path.join(work, 'tree');
  mkdirSync(path.join(tree, 'boot'), { recursive: true });
  mkdirSync(path.join(tree, '.genpack'), { recursive: true });
  writeFileSync(path.join(tree, 'boot', 'kernel'), 'kernel placeholder\n');
  writeFileSync(path.join(tree, 'boot', 'initramfs'), 'initramfs placeholder\n');
  writeFileSync(path.join(tree, '.genpack', 'artifact'), `${artifact}\n`);
  writeFileSync(path.join(tree, '.genpack', 'arch'), 'x86_64\n');
  writeFileSync(path.join(tree, 'payload'), randomBytes(96 * 1024 * 1024));
  run('mksquashfs', [tree, file, '-noappend', '-quiet', '-no-progress', '-noI', '-noD', '-noF', '-noX']);
}

/** A sparse file of `bytes`. @param {string} file @param {number} bytes */
export function sparseFile(file, bytes) {
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}
