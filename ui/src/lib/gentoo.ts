// What a Gentoo build needs, as the gallery says it before a project is made, and the build
// settings the studio keeps for this user (shared by the Build step and the gallery).

import { duration } from './gallery-filter';
import type { GentooNeeds } from './types';

/** Where the Build step keeps its Gentoo settings (emerge options, mirror) in localStorage. */
export const BUILD_SETTINGS_KEY = 'genpack.emerge-settings';

/** The Gentoo mirror set in the Build step's settings, or null for the default. */
export function savedMirror(): string | null {
  try {
    const saved = JSON.parse(localStorage.getItem(BUILD_SETTINGS_KEY) ?? '{}') as { mirror?: unknown };
    const mirror = typeof saved.mirror === 'string' ? saved.mirror.trim() : '';
    return mirror || null;
  } catch {
    return null;
  }
}

/** The host of a mirror URL, for short lines ("distfiles.gentoo.org"), or the URL itself. */
export function mirrorHost(mirror: string): string {
  try {
    const url = new URL(mirror);
    return url.protocol === 'file:' ? `the local copy ${url.pathname}` : url.host;
  } catch {
    return mirror;
  }
}

/** One line for a card: download, time, network. */
export function needsLine(needs: GentooNeeds): string {
  const download = needs.base_download_mib > 0 ? `${needs.base_download_mib} MB download + sources` : 'package sources';
  const time = `about ${duration(needs.expected_s)}${needs.from_history ? '' : ' (estimate)'}`;
  return `Needs ${download}, ${time}, ${mirrorHost(needs.mirror)} reachable`;
}
