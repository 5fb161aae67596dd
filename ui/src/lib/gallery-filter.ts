// Which templates the gallery shows for a search text and a category.

import type { Template } from './types';

export const ALL = 'All';

/** The categories present, "All" first, then alphabetical. */
export function categoriesOf(templates: Template[]): string[] {
  const names = new Set(templates.map((template) => template.meta.category).filter(Boolean));
  return [ALL, ...[...names].sort((a, b) => a.localeCompare(b))];
}

/** Templates matching every word of `query` (title, summary, tags, id, base) and the category. */
export function filterTemplates(templates: Template[], query: string, category: string): Template[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return templates.filter((template) => {
    if (category !== ALL && template.meta.category !== category) return false;
    const haystack = [
      template.id,
      template.meta.title,
      template.meta.summary,
      template.meta.description,
      template.meta.base,
      template.meta.category,
      ...template.meta.tags,
    ]
      .join(' ')
      .toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

/** A data URL for a template's SVG icon, shown in an <img> so the SVG cannot run scripts. */
export function iconUrl(svg: string | null | undefined): string | null {
  if (!svg) return null;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
