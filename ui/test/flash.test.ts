import { describe, expect, it } from 'vitest';
import {
  confirmationSentence,
  dataPartitionFits,
  defaultLayout,
  formatEta,
  isConfirmed,
  overallFraction,
  progressLine,
  TABLES,
  typedConfirmation,
} from '../src/components/flash/flash-logic';
import type { DriveChoice } from '../src/lib/types';

function drive(overrides: Partial<DriveChoice> = {}): DriveChoice {
  return {
    path: '/dev/sdb',
    description: 'SanDisk Ultra, 14.9 GiB (/dev/sdb)',
    name: 'SanDisk Ultra',
    vendor: 'SanDisk',
    model: 'Ultra',
    size: 16_000_000_000,
    size_text: '14.9 GiB',
    bus: 'usb',
    removable: true,
    backing_file: null,
    diskseq: 7,
    serial: null,
    labels: [],
    ...overrides,
  };
}

describe('confirming a drive', () => {
  it('needs the tick for a removable drive', () => {
    expect(isConfirmed(drive(), false, '')).toBe(false);
    expect(isConfirmed(drive(), true, '')).toBe(true);
    expect(isConfirmed(null, true, 'sdb')).toBe(false);
  });

  it('needs the tick and the typed kernel name for an internal disk', () => {
    const internal = drive({ path: '/dev/nvme0n1', removable: false, bus: 'nvme' });
    expect(typedConfirmation(internal)).toBe('nvme0n1');
    expect(isConfirmed(internal, true, '')).toBe(false);
    expect(isConfirmed(internal, true, 'sdb')).toBe(false);
    expect(isConfirmed(internal, false, 'nvme0n1')).toBe(false);
    expect(isConfirmed(internal, true, ' nvme0n1 ')).toBe(true);
  });

  it('names the drive, its size and its device in the sentence ticked', () => {
    expect(confirmationSentence(drive())).toBe('Erase everything on SanDisk Ultra (14.9 GiB, /dev/sdb)');
  });
});

describe('progress', () => {
  const writing = {
    kind: 'drive' as const,
    device: '/dev/sdz',
    phase: 'writing' as const,
    bytes_done: 100 * 1024 * 1024,
    bytes_total: 400 * 1024 * 1024,
    bytes_per_second: 35_200_000,
    eta_secs: 8.4,
  };

  it('shows bytes, speed and time left', () => {
    expect(progressLine(writing)).toBe('100.0 MiB of 400.0 MiB · 35.2 MB/s · 8 s left');
    expect(progressLine({ ...writing, bytes_per_second: 0, eta_secs: null })).toBe('100.0 MiB of 400.0 MiB');
  });

  it('rounds time left into minutes and seconds', () => {
    expect(formatEta(185)).toBe('3 min 5 s');
    expect(formatEta(null)).toBe('');
  });

  it('moves forward through the phases and ends at one', () => {
    const verifying = { ...writing, phase: 'verifying' as const, bytes_done: 0 };
    const finished = { ...writing, phase: 'finishing' as const, bytes_done: 10, bytes_total: 10 };
    expect(overallFraction(null)).toBe(0);
    expect(overallFraction(writing)).toBeLessThan(overallFraction(verifying));
    expect(overallFraction(verifying)).toBeLessThan(overallFraction(finished));
    expect(overallFraction(finished)).toBeCloseTo(1);
  });

  it('says the image is being checked before anything is written', () => {
    const checking = { kind: 'checksum' as const, bytes_done: 1024 * 1024, bytes_total: 4 * 1024 * 1024 };
    expect(progressLine(checking)).toBe("Checking the image's SHA-256: 1.0 MiB of 4.0 MiB");
    expect(overallFraction(checking)).toBe(0);
  });
});

describe('partition tables', () => {
  it('offers MBR first, as the default, and says which firmware boots each', () => {
    expect(TABLES.map((t) => t.id)).toEqual(['auto', 'gpt', 'superfloppy']);
    expect(defaultLayout().table).toBe('auto');
    expect(TABLES[0].title).toContain('BIOS and UEFI');
    expect(TABLES[2].title).toContain('UEFI only');
  });

  it('allows a data partition only with a partition table', () => {
    expect(dataPartitionFits('auto')).toBe(true);
    expect(dataPartitionFits('gpt')).toBe(true);
    expect(dataPartitionFits('superfloppy')).toBe(false);
  });
});
