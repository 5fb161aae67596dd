// The system.ini form: the keys the image understands, grouped as the schema says, and every
// other key of the file kept in "Other settings".

import type { IniEdit, IniKeySpec, IniSchema, IniSection, SchemaOrigin } from './types';

export const DEFAULT_SECTION = '_default';

/** Group order on the page; groups the schema adds later follow in schema order. */
const GROUP_ORDER = ['System', 'Access', 'Network', 'Wi-Fi'];

export type IniFieldKind = 'text' | 'bool' | 'number' | 'choice' | 'timezone' | 'multiline' | 'secret';

export interface IniField {
  spec: IniKeySpec;
  kind: IniFieldKind;
  label: string;
  id: string;
  choices?: string[];
}

export interface IniGroup {
  name: string;
  fields: IniField[];
}

/** The editor to use for a key, from the schema's kind. */
export function fieldKind(spec: IniKeySpec): IniFieldKind {
  switch (spec.kind.type) {
    case 'bool':
      return 'bool';
    case 'int':
      return 'number';
    case 'enum':
      return 'choice';
    case 'timezone':
      return 'timezone';
    case 'ssh_keys':
      return 'multiline';
    case 'password':
      return 'secret';
    default:
      return 'text';
  }
}

/** The choices a key allows, when the schema lists them. */
export function choicesOf(spec: IniKeySpec): string[] | undefined {
  return spec.kind.type === 'enum' && spec.kind.values?.length ? spec.kind.values : undefined;
}

/** "wifi_ssid" -> "Wi-Fi SSID", "ssh_pubkey" -> "SSH public keys": short labels for people. */
export function labelFor(key: string): string {
  const words = key.split(/[_-]+/).map((word) => {
    const lower = word.toLowerCase();
    const known: Record<string, string> = {
      wifi: 'Wi-Fi',
      ssid: 'SSID',
      ssh: 'SSH',
      pubkey: 'public keys',
      wpa3: 'WPA3',
      dns: 'DNS',
      mdns: 'mDNS',
      llmnr: 'LLMNR',
      sae: 'SAE',
      pwe: 'PWE',
      ip: 'IP',
      ipv4: 'IPv4',
      ipv6: 'IPv6',
      id: 'ID',
    };
    return known[lower] ?? lower;
  });
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The form's groups for a schema, in page order. */
export function buildIniGroups(schema: IniSchema): IniGroup[] {
  const groups = new Map<string, IniField[]>();
  for (const spec of schema.keys) {
    const name = spec.group?.trim() || (spec.section === DEFAULT_SECTION ? 'System' : spec.section);
    const kind = fieldKind(spec);
    const field: IniField = {
      spec,
      kind,
      label: spec.title || labelFor(spec.key),
      id: `ini-${spec.section}-${spec.key}`.replace(/[^A-Za-z0-9_-]/g, '-'),
    };
    const choices = choicesOf(spec);
    if (choices) field.choices = choices;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name)?.push(field);
  }
  const rank = (name: string) => {
    const index = GROUP_ORDER.indexOf(name);
    return index === -1 ? GROUP_ORDER.length : index;
  };
  return [...groups.entries()]
    .map(([name, fields], index) => ({ name, fields, index }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.index - b.index)
    .map(({ name, fields }) => ({ name, fields }));
}

/** The value of `key` in `section` (keys compare without case, as at boot), or undefined. */
export function valueOf(sections: IniSection[], section: string, key: string): string | undefined {
  const wanted = key.toLowerCase();
  return sections
    .find((candidate) => candidate.name === section)
    ?.entries.find((entry) => entry.key.toLowerCase() === wanted)?.value;
}

export interface OtherSetting {
  section: string;
  key: string;
  value: string;
  line: number;
}

/** Every key of the file that the schema does not describe, in file order. */
export function otherSettings(sections: IniSection[], schema: IniSchema): OtherSetting[] {
  const known = new Set(schema.keys.map((spec) => `${spec.section}\u0000${spec.key.toLowerCase()}`));
  const others: OtherSetting[] = [];
  for (const section of sections) {
    for (const entry of section.entries) {
      if (!known.has(`${section.name}\u0000${entry.key.toLowerCase()}`)) {
        others.push({ section: section.name, ...entry });
      }
    }
  }
  return others.sort((a, b) => a.line - b.line);
}

/** What a yes/no key holds: true, false, or undefined when unset or not a yes/no word. */
export function boolValue(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const word = value.trim().toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(word)) return true;
  if (['no', 'false', 'off', '0'].includes(word)) return false;
  return undefined;
}

/**
 * What a yes/no key's three-way choice shows: '' when the file does not set it (the default
 * applies), 'yes' or 'no' for any spelling of those, or the text itself when it is neither (so
 * a mistake stays visible instead of looking like the default).
 */
export function boolChoice(value: string | undefined): string {
  if (value === undefined || value.trim() === '') return '';
  const parsed = boolValue(value);
  if (parsed === undefined) return value;
  return parsed ? 'yes' : 'no';
}

/** "Default (yes)" for a yes/no key; "Default" when the image decides by itself. */
export function defaultLabel(fallback: string | null | undefined): string {
  if (!fallback) return 'Default';
  const parsed = boolValue(fallback);
  return `Default (${parsed === undefined ? fallback : parsed ? 'yes' : 'no'})`;
}

/** The section a new key goes to: an empty box means the top of the file. */
export function sectionFor(typed: string): string {
  return typed.trim().replace(/^\[|\]$/g, '').trim() || DEFAULT_SECTION;
}

/**
 * The edit for a form change: an empty text removes the key (so its default applies), any
 * other text sets it. Setting a value equal to the current one is no edit at all, so an
 * untouched file stays byte-identical.
 */
export function editFor(
  sections: IniSection[],
  section: string,
  key: string,
  value: string,
): IniEdit | null {
  const current = valueOf(sections, section, key);
  if (value.trim() === '') {
    return current === undefined ? null : { section, key, value: null };
  }
  if (current === value) return null;
  return { section, key, value };
}

/** When an image was built, for people: the date and time in the user's own format. */
function builtOn(seconds: number | null, locale?: string): string {
  if (seconds === null) return '';
  const when = new Date(seconds * 1000).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
  return ` built on ${when}`;
}

/** One line saying where the form's keys come from: the image's own, or the built-in ones and why. */
export function schemaOriginText(origin: SchemaOrigin, locale?: string): string {
  switch (origin.from) {
    case 'image':
      return `Settings from the image${builtOn(origin.built_at, locale)}.`;
    case 'disk':
      return `Settings from the image on this stick${builtOn(origin.built_at, locale)}.`;
    case 'builtin':
      return `Built-in settings: ${origin.reason}.`;
  }
}
