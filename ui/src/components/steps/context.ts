// What every step of a project gets.

import type { DefinitionSession } from '../../lib/definition-session.svelte';
import type { ProjectView } from '../../lib/types';

export interface StepContext {
  project: ProjectView;
  /** The open genpack.json5 (shared by every step, so nothing is lost when switching). */
  session: DefinitionSession;
  notify: (text: string, kind?: 'error' | 'ok') => void;
  /** Switches to another step by id. */
  goTo: (step: string) => void;
}
