// Which cards the gallery shows for a search text and a category. A card is one appliance with
// up to two flavours: ready-made from Debian packages, compiled for you from Gentoo sources.

import type { Template } from './types';

export const ALL = 'All';

/** One gallery card. `main` titles it; the flavours are the templates a project starts from. */
export interface Card {
  main: Template;
  readyMade: Template | null;
  compiled: Template | null;
}

/** True when the template is made from Debian's binary packages. */
export function isReadyMade(template: Template): boolean {
  return template.meta.base.startsWith('debian');
}

/** The cards, in the gallery's order: one per template that names no other in `flavour_of`. */
export function cardsOf(templates: Template[]): Card[] {
  const byId = new Map(templates.map((template) => [template.id, template]));
  return templates
    .filter((template) => !template.meta.flavour_of)
    .map((main) => {
      const other = main.other_flavour ? (byId.get(main.other_flavour) ?? null) : null;
      return isReadyMade(main)
        ? { main, readyMade: main, compiled: other }
        : { main, readyMade: other, compiled: main };
    });
}

/** The categories present, "All" first, then alphabetical. */
export function categoriesOf(templates: Template[]): string[] {
  const names = new Set(templates.map((template) => template.meta.category).filter(Boolean));
  return [ALL, ...[...names].sort((a, b) => a.localeCompare(b))];
}

function haystack(template: Template): string {
  return [
    template.id,
    template.meta.title,
    template.meta.summary,
    template.meta.description,
    template.meta.base,
    template.meta.category,
    ...template.meta.tags,
  ].join(' ');
}

/** Templates matching every word of `query` (title, summary, tags, id, base) and the category. */
export function filterTemplates(templates: Template[], query: string, category: string): Template[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return templates.filter((template) => {
    if (category !== ALL && template.meta.category !== category) return false;
    const text = haystack(template).toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** Cards in the category whose flavours, together, match every word of `query`. */
export function filterCards(cards: Card[], query: string, category: string): Card[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return cards.filter((card) => {
    if (category !== ALL && card.main.meta.category !== category) return false;
    const text = [card.readyMade, card.compiled]
      .filter((t): t is Template => t !== null)
      .map(haystack)
      .join(' ')
      .toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** "4 min", "45 s", "1 h 5 min". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** One line about a flavour for the card: how long it takes and what it gives. */
export function flavourLine(template: Template): string {
  if (!isReadyMade(template)) return 'Compiled for you: hours, more control';
  const measured = template.meta.measured;
  if (!measured) return 'Ready-made: minutes';
  return `Ready-made: ${duration(measured.build_cold_s)}, ${measured.image_mib} MiB`;
}

/** A data URL for a template's SVG icon, shown in an <img> so the SVG cannot run scripts. */
export function iconUrl(svg: string | null | undefined): string | null {
  if (!svg) return null;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
