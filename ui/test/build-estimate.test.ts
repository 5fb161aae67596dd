import { describe, expect, it } from 'vitest';
import { buildEstimate, estimateText, rememberTemplateTimes, templateTimes } from '../src/lib/build-estimate';
import type { BuildOutput } from '../src/lib/types';

function memory() {
  const items = new Map<string, string>();
  return { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value) };
}

const output = (extra: Partial<BuildOutput>): BuildOutput => ({
  image: '/p/box-x86_64.squashfs',
  exists: false,
  bytes: null,
  base_layer_ready: false,
  estimate_s: null,
  ...extra,
});

describe('build estimate', () => {
  it('prefers the project’s own past builds, then the template’s measured times', () => {
    const store = memory();
    rememberTemplateTimes('/p', { build_cold_s: 240, build_warm_s: 30, image_mib: 300, boot_to_service_s: 20, date: '2026-01-01' }, store);
    const template = templateTimes('/p', store);
    expect(template).toEqual({ cold: 240, warm: 30 });
    expect(templateTimes('/other', store)).toBeNull();

    expect(buildEstimate(output({}), template)).toEqual({ seconds: 240, from: 'template' });
    expect(buildEstimate(output({ base_layer_ready: true }), template)).toEqual({ seconds: 30, from: 'template' });
    expect(buildEstimate(output({ base_layer_ready: true, estimate_s: 55 }), template)).toEqual({ seconds: 55, from: 'past' });
    expect(buildEstimate(output({}), null)).toBeNull();
    expect(buildEstimate(null, template)).toBeNull();
  });

  it('says which kind of build and where the number comes from', () => {
    expect(estimateText({ seconds: 240, from: 'template' }, false)).toBe(
      'The first build (it makes the base layer) takes about 4 min, as measured for its template.',
    );
    expect(estimateText({ seconds: 45, from: 'past' }, true)).toBe(
      "A build that reuses the base layer takes about 45 s, going by this project's builds on this computer.",
    );
    expect(estimateText({ seconds: 30, from: 'template' }, true)).toBe('A build that reuses the base layer takes about 30 s, as measured for its template.');
    expect(estimateText({ seconds: 600, from: 'past' }, false)).toBe(
      "A build that makes the base layer again takes about 10 min, going by this project's builds on this computer.",
    );
  });

  it('ignores what it cannot read', () => {
    const store = memory();
    store.setItem('genpack.template-times', 'not json');
    expect(templateTimes('/p', store)).toBeNull();
    rememberTemplateTimes('/p', null, store);
    expect(templateTimes('/p', store)).toBeNull();
  });
});
