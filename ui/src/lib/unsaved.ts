// Unsaved work across the window: each editor registers a check, and closing the project or the
// window asks first when any check reports unsaved changes.

import { ask } from '@tauri-apps/plugin-dialog';

const checks = new Set<() => boolean>();

/** Registers a "has unsaved changes" check; returns the function that removes it. */
export function trackUnsaved(check: () => boolean): () => void {
  checks.add(check);
  return () => checks.delete(check);
}

export function hasUnsaved(): boolean {
  return [...checks].some((check) => check());
}

/** True when there is nothing unsaved or the user agrees to throw it away. */
export async function confirmDiscard(what: string): Promise<boolean> {
  if (!hasUnsaved()) return true;
  return ask(`You have unsaved changes. ${what} anyway and lose them?`, {
    title: 'Unsaved changes',
    kind: 'warning',
    okLabel: 'Discard changes',
    cancelLabel: 'Keep editing',
  });
}
