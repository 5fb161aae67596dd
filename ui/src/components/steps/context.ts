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
  /** The step on screen now: a step reads the project's state again each time it is shown. */
  readonly active: string;
  /** Builds ended (done, failed or cancelled) since the project was opened: steps that show
   * what a build made read it again when this changes. */
  readonly builds: number;
  /** Called by the Build step when a build ends. */
  buildEnded: () => void;
}
