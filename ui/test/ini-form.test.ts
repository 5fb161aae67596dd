import { describe, expect, it } from 'vitest';
import { boolChoice, boolValue, buildIniGroups, defaultLabel, editFor, fieldKind, labelFor, otherSettings, schemaOriginText, sectionFor, valueOf } from '../src/lib/ini-form';
import type { IniKeySpec, IniKind, IniSchema, IniSection } from '../src/lib/types';

function spec(key: string, type: IniKind['type'], group: string, extra: Partial<IniKeySpec> = {}): IniKeySpec {
  // An enum's values come in `extra`.
  const kind = { type } as IniKind;
  return { section: '_default', key, title: '', kind, help: `help for ${key}`, module: 'm', applied_every_boot: true, group, ...extra };
}

const schema: IniSchema = {
  keys: [
    spec('wifi_ssid', 'string', 'Wi-Fi'),
    spec('hostname', 'hostname', 'System', { title: 'Host name' }),
    spec('ssh_pubkey', 'ssh_keys', 'Access'),
    spec('timezone', 'timezone', 'System'),
    spec('wifi_key', 'password', 'Wi-Fi'),
    spec('wifi_wpa3', 'bool', 'Wi-Fi', { default: 'no' }),
    spec('wifi_sae_pwe', 'enum', 'Wi-Fi', { kind: { type: 'enum', values: ['0', '1', '2'] } }),
    spec('address', 'ipv4_cidr', 'Network'),
    spec('swapfile', 'int', 'Storage'),
  ],
};

const sections: IniSection[] = [
  {
    name: '_default',
    entries: [
      { key: 'Hostname', value: 'box', line: 2 },
      { key: 'my_key', value: 'kept', line: 5 },
    ],
  },
  { name: 'custom', entries: [{ key: 'answer', value: '42', line: 8 }] },
];

describe('system.ini form', () => {
  it('groups keys in page order: System, Access, Network, Wi-Fi, then the rest', () => {
    const groups = buildIniGroups(schema);
    expect(groups.map((group) => group.name)).toEqual(['System', 'Access', 'Network', 'Wi-Fi', 'Storage']);
    expect(groups[0].fields.map((field) => field.spec.key)).toEqual(['hostname', 'timezone']);
  });

  it('chooses the editor from the kind', () => {
    const kinds = Object.fromEntries(schema.keys.map((key) => [key.key, fieldKind(key)]));
    expect(kinds).toMatchObject({
      hostname: 'text',
      ssh_pubkey: 'multiline',
      timezone: 'timezone',
      wifi_key: 'secret',
      wifi_wpa3: 'bool',
      wifi_sae_pwe: 'choice',
      swapfile: 'number',
    });
    const pwe = buildIniGroups(schema).find((group) => group.name === 'Wi-Fi')?.fields.find((field) => field.spec.key === 'wifi_sae_pwe');
    expect(pwe?.choices).toEqual(['0', '1', '2']);
  });

  it('labels fields with the schema title, or readable words', () => {
    expect(buildIniGroups(schema)[0].fields[0].label).toBe('Host name');
    expect(labelFor('wifi_ssid')).toBe('Wi-Fi SSID');
    expect(labelFor('ssh_pubkey')).toBe('SSH public keys');
  });

  it('reads values without regard to key case, as the machine does', () => {
    expect(valueOf(sections, '_default', 'hostname')).toBe('box');
    expect(valueOf(sections, 'custom', 'ANSWER')).toBe('42');
    expect(valueOf(sections, '_default', 'timezone')).toBeUndefined();
  });

  it('keeps every key the schema does not know in Other settings', () => {
    expect(otherSettings(sections, schema)).toEqual([
      { section: '_default', key: 'my_key', value: 'kept', line: 5 },
      { section: 'custom', key: 'answer', value: '42', line: 8 },
    ]);
  });

  it('makes no edit for an unchanged value and removes emptied keys', () => {
    expect(editFor(sections, '_default', 'hostname', 'box')).toBeNull();
    expect(editFor(sections, '_default', 'hostname', 'other')).toEqual({ section: '_default', key: 'hostname', value: 'other' });
    expect(editFor(sections, '_default', 'hostname', '')).toEqual({ section: '_default', key: 'hostname', value: null });
    expect(editFor(sections, '_default', 'timezone', '')).toBeNull();
  });

  it('reads yes/no words like the boot-time reader', () => {
    expect(['yes', 'On', '1', 'true'].map(boolValue)).toEqual([true, true, true, true]);
    expect(['no', 'OFF', '0', 'false'].map(boolValue)).toEqual([false, false, false, false]);
    expect(boolValue('maybe')).toBeUndefined();
  });

  it('shows a yes/no key in three states: default when the file does not set it', () => {
    expect(boolChoice(undefined)).toBe('');
    expect(boolChoice('  ')).toBe('');
    expect(boolChoice('On')).toBe('yes');
    expect(boolChoice('0')).toBe('no');
    // A value that is neither stays visible, not shown as the default.
    expect(boolChoice('maybe')).toBe('maybe');
    expect(defaultLabel('yes')).toBe('Default (yes)');
    expect(defaultLabel('false')).toBe('Default (no)');
    expect(defaultLabel('my-box')).toBe('Default (my-box)');
    expect(defaultLabel(null)).toBe('Default');
  });

  it('puts a new key with no section at the top of the file', () => {
    expect(sectionFor('')).toBe('_default');
    expect(sectionFor('  ')).toBe('_default');
    expect(sectionFor('[wg0]')).toBe('wg0');
    expect(sectionFor('wg0')).toBe('wg0');
  });
});

describe('where the form\'s keys come from', () => {
  it('names the image and when it was built, or why the built-in keys are used', () => {
    const built = 1_700_000_000;
    const when = new Date(built * 1000).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
    expect(schemaOriginText({ from: 'image', image: '/p/kiosk-x86_64.squashfs', built_at: built }, 'en-GB')).toBe(
      `Settings from the image built on ${when}.`,
    );
    expect(schemaOriginText({ from: 'disk', disk: '/dev/sdb', built_at: null })).toBe('Settings from the image on this stick.');
    expect(
      schemaOriginText({ from: 'builtin', reason: 'kiosk-x86_64.squashfs is not built yet; build the image to see its own settings' }),
    ).toBe('Built-in settings: kiosk-x86_64.squashfs is not built yet; build the image to see its own settings.');
  });

  it('gives a drop-in module\'s key of the image a field with its help, not a place in Other settings', () => {
    const image: IniSchema = { keys: [...schema.keys, spec('kiosk_url', 'string', 'Kiosk', { help: 'The page the kiosk shows.' })] };
    const kiosk = buildIniGroups(image).find((group) => group.name === 'Kiosk');
    expect(kiosk?.fields.map((field) => [field.spec.key, field.spec.help])).toEqual([['kiosk_url', 'The page the kiosk shows.']]);
    const withKiosk: IniSection[] = [{ name: '_default', entries: [{ key: 'kiosk_url', value: 'https://example.org/', line: 1 }] }];
    expect(otherSettings(withKiosk, image)).toEqual([]);
    expect(otherSettings(withKiosk, schema).map((other) => other.key)).toEqual(['kiosk_url']);
  });
});
