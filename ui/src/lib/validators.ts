// Which engine check applies to the entries of which field, so mistakes show while typing.

import { api, errorMessage } from './api';

/** Lists whose entries are package atoms ("category/name", "=category/name-1.2", ...). */
const ATOM_LISTS = new Set(['packages', 'mask', 'binpkg_excludes', 'buildtime_packages']);
// Maps whose keys are package atoms ("*" or "*/*" means every package).
const ATOM_MAPS = new Set(['use', 'accept_keywords', 'license', 'env']);

export type Check = (text: string) => Promise<string | null>;

/** The definition's base decides what a package entry looks like (Portage atom or Debian name). */
let packageBase = 'gentoo';

export function setPackageBase(base: string): void {
  packageBase = base;
}

const atomCheck: Check = async (text) => {
  // "-cat/pkg" in a variant or arch block removes a package the base adds.
  const atom = text.trim().replace(/^-/, '');
  if (atom === '' || atom === '*' || atom === '*/*') return null;
  try {
    return await api.checkAtom(atom, packageBase);
  } catch (error) {
    return errorMessage(error);
  }
};

const useFlagsCheck: Check = async (text) => {
  if (text.trim() === '') return null;
  try {
    return await api.checkUseFlags(text);
  } catch (error) {
    return errorMessage(error);
  }
};

/** The check for the items of list field `key`, if any. */
export function itemCheck(key: string): Check | undefined {
  return ATOM_LISTS.has(key) ? atomCheck : undefined;
}

/** The check for the keys of map field `key`, if any. */
export function mapKeyCheck(key: string): Check | undefined {
  return ATOM_MAPS.has(key) ? atomCheck : undefined;
}

/** The check for the values of map field `key`, if any. */
export function mapValueCheck(key: string): Check | undefined {
  return key === 'use' ? useFlagsCheck : undefined;
}

/** Runs `check` after typing pauses; only the answer for the latest text is kept. */
export function liveCheck(check: Check | undefined, report: (message: string | null) => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest = 0;
  return (text: string) => {
    if (!check) return;
    clearTimeout(timer);
    const ticket = ++latest;
    timer = setTimeout(async () => {
      const message = await check(text);
      if (ticket === latest) report(message);
    }, 250);
  };
}
