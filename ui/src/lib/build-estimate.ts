// How long a build will take, said before it starts: from this project's past builds on this
// machine (the engine keeps them in the work folder), else from the numbers measured for the
// template the project was made from.

import { duration } from './gallery-filter';
import type { BuildOutput, Measured } from './types';

const KEY = 'genpack.template-times';

/** What the template's measurements say, kept per project folder when it is created. */
export interface TemplateTimes {
  /** First build, nothing cached (seconds). */
  cold: number;
  /** A build that reuses the base layer (seconds). */
  warm: number;
}

type Store = Pick<Storage, 'getItem' | 'setItem'>;

function readAll(store: Store): Record<string, TemplateTimes> {
  try {
    const parsed = JSON.parse(store.getItem(KEY) ?? '{}');
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

/** Keeps the template's measured times for the project just made from it in `dir`. */
export function rememberTemplateTimes(dir: string, measured: Measured | null | undefined, store: Store = localStorage) {
  if (!measured) return;
  const all = readAll(store);
  all[dir] = { cold: measured.build_cold_s, warm: measured.build_warm_s };
  store.setItem(KEY, JSON.stringify(all));
}

/** The measured times of the template `dir` was made from, if it was made here. */
export function templateTimes(dir: string, store: Store = localStorage): TemplateTimes | null {
  const found = readAll(store)[dir];
  return found && typeof found.cold === 'number' && typeof found.warm === 'number' ? found : null;
}

export interface Estimate {
  seconds: number;
  from: 'past' | 'template';
}

/** The estimate for the next build of `output`: past builds first, then the template's. */
export function buildEstimate(output: BuildOutput | null, template: TemplateTimes | null): Estimate | null {
  if (!output) return null;
  if (output.estimate_s !== null && output.estimate_s > 0) return { seconds: output.estimate_s, from: 'past' };
  if (template) return { seconds: output.base_layer_ready ? template.warm : template.cold, from: 'template' };
  return null;
}

/**
 * "A build that reuses the base layer takes about 5 s, going by this project's builds on this
 * computer": which kind of build the number is for (the last build may have been the other
 * kind) and where it comes from.
 */
export function estimateText(estimate: Estimate, baseLayerReady: boolean): string {
  let what = 'The first build (it makes the base layer)';
  if (baseLayerReady) what = 'A build that reuses the base layer';
  else if (estimate.from === 'past') what = 'A build that makes the base layer again';
  const why = estimate.from === 'past' ? "going by this project's builds on this computer" : 'as measured for its template';
  return `${what} takes about ${duration(estimate.seconds)}, ${why}.`;
}
