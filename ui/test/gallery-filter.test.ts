import { describe, expect, it } from 'vitest';
import { ALL, cardsOf, categoriesOf, duration, filterCards, filterTemplates, flavourLine, iconUrl } from '../src/lib/gallery-filter';
import type { Category, Template } from '../src/lib/types';

function template(id: string, category: Category, tags: string[], summary = ''): Template {
  return {
    id,
    dir: `/templates/${id}`,
    meta: {
      title: id.replace('-', ' '),
      summary,
      description: '',
      category,
      tags,
      icon: 'icon.svg',
      base: 'gentoo',
      arches: ['x86_64'],
      size: '300 MB',
    },
    package_count: 3,
    icon_svg: null,
    other_flavour: null,
  };
}

const templates = [
  template('debian-web', 'Server', ['nginx', 'web'], 'A web server'),
  template('router', 'Network', ['firewall']),
  template('nextcloud', 'Server', ['files', 'web']),
];

describe('gallery filter', () => {
  it('lists categories once, All first', () => {
    expect(categoriesOf(templates)).toEqual([ALL, 'Network', 'Server']);
  });

  it('filters by category and by every word of the search', () => {
    expect(filterTemplates(templates, '', 'Server').map((t) => t.id)).toEqual(['debian-web', 'nextcloud']);
    expect(filterTemplates(templates, 'web', ALL).map((t) => t.id)).toEqual(['debian-web', 'nextcloud']);
    expect(filterTemplates(templates, 'WEB nginx', ALL).map((t) => t.id)).toEqual(['debian-web']);
    expect(filterTemplates(templates, 'web', 'Network')).toEqual([]);
  });

  it('shows icons as data URLs only when there is one', () => {
    expect(iconUrl(null)).toBeNull();
    expect(iconUrl('<svg/>')).toMatch(/^data:image\/svg\+xml;charset=utf-8,%3Csvg/);
  });
});

describe('gallery cards', () => {
  const compiled = { ...template('file-server', 'Server', ['samba']), other_flavour: 'debian-file-server' };
  const ready: Template = {
    ...template('debian-file-server', 'Server', ['smb']),
    meta: {
      ...template('debian-file-server', 'Server', ['smb']).meta,
      base: 'debian:bookworm',
      flavour_of: 'file-server',
      measured: { build_cold_s: 330, build_warm_s: 40, image_mib: 180, boot_to_service_s: 50, date: '2026-12-02' },
    },
    other_flavour: 'file-server',
  };
  const alone = { ...template('pytorch', 'Tools', ['ml']) };
  alone.meta.no_ready_made = 'Debian 12 has no PyTorch with ROCm.';
  const web = { ...template('debian-web', 'Server', ['nginx']), meta: { ...template('debian-web', 'Server', ['nginx']).meta, base: 'debian:bookworm' } };

  it('puts both flavours of an appliance on one card, titled after the one that names no other', () => {
    const cards = cardsOf([compiled, ready, alone, web]);
    expect(cards.map((c) => c.main.id)).toEqual(['file-server', 'pytorch', 'debian-web']);
    expect(cards[0].readyMade?.id).toBe('debian-file-server');
    expect(cards[0].compiled?.id).toBe('file-server');
    expect(cards[1].readyMade).toBeNull();
    expect(cards[2].compiled).toBeNull();
    expect(cards[2].readyMade?.id).toBe('debian-web');
  });

  it('finds a card by words of either flavour', () => {
    const cards = cardsOf([compiled, ready, alone]);
    expect(filterCards(cards, 'smb samba', ALL).map((c) => c.main.id)).toEqual(['file-server']);
    expect(filterCards(cards, 'debian', 'Server').map((c) => c.main.id)).toEqual(['file-server']);
    expect(filterCards(cards, 'smb', 'Tools')).toEqual([]);
  });

  it('says how long each flavour takes, with measured numbers where there are some', () => {
    expect(flavourLine(ready)).toBe('Ready-made: 6 min, 180 MiB');
    expect(flavourLine(web)).toBe('Ready-made: minutes');
    expect(flavourLine(compiled)).toBe('Compiled for you: hours, more control');
    expect(duration(42)).toBe('42 s');
    expect(duration(3725)).toBe('1 h 2 min');
  });
});
