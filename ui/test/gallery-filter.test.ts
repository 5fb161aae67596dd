import { describe, expect, it } from 'vitest';
import { ALL, categoriesOf, filterTemplates, iconUrl } from '../src/lib/gallery-filter';
import type { Template } from '../src/lib/types';

function template(id: string, category: string, tags: string[], summary = ''): Template {
  return {
    id,
    dir: `/templates/${id}`,
    meta: { title: id.replace('-', ' '), summary, description: '', category, tags, base: 'gentoo', arches: ['x86_64'] },
    package_count: 3,
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
