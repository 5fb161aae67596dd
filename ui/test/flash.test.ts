import { describe, expect, it } from 'vitest';
import {
  allConfirmed,
  applyProgress,
  confirmationSentence,
  confirmationSentenceAll,
  imageKindText,
  isLaidOut,
  minimumDriveBytes,
  outcomeSummary,
  preparingStep,
  startWrite,
  stickFraction,
  stickLine,
  dataPartitionFits,
  defaultLayout,
  formatEta,
  isConfirmed,
  overallFraction,
  progressLine,
  TABLES,
  typedConfirmation,
} from '../src/components/flash/flash-logic';
import type { DriveChoice, FlashProgress, StickOutcome } from '../src/lib/types';

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

describe('a write to several drives', () => {
  const drive = (device: string, phase: 'preparing' | 'writing' | 'verifying' | 'finishing', done: number, total: number): FlashProgress => ({
    kind: 'drive',
    device,
    phase,
    bytes_done: done,
    bytes_total: total,
    bytes_per_second: 20e6,
    eta_secs: 3,
  });

  it('handles every event the engine sends, in the order it sends them', () => {
    // The order of a write of a genpack image with a checksum to check, to two drives.
    const events: FlashProgress[] = [
      { kind: 'checksum', bytes_done: 0, bytes_total: 100 },
      { kind: 'checksum', bytes_done: 100, bytes_total: 100 },
      { kind: 'layout' },
      drive('/dev/sdb', 'preparing', 0, 2),
      drive('/dev/sdc', 'preparing', 0, 2),
      drive('/dev/sdb', 'writing', 50, 100),
      drive('/dev/sdc', 'writing', 10, 100),
      { kind: 'drive_done', device: '/dev/sdc', error: 'I/O error writing /dev/sdc at byte 41943040' },
      drive('/dev/sdb', 'verifying', 100, 100),
      drive('/dev/sdb', 'finishing', 1, 1),
      { kind: 'drive_done', device: '/dev/sdb', error: null },
    ];
    let state = startWrite(['/dev/sdb', '/dev/sdc']);
    const steps: (string | null)[] = [];
    for (const event of events) {
      state = applyProgress(state, event);
      steps.push(preparingStep(state));
    }
    // The checksum is a step of its own before anything is written, then the layout.
    expect(steps.slice(0, 3)).toEqual(['checksum', 'checksum', 'layout']);
    expect(steps.slice(3).every((step) => step === null)).toBe(true);
    const [sdb, sdc] = state.sticks;
    expect(sdb.done).toEqual({ ok: true });
    expect(stickLine(sdb)).toBe('Written and verified');
    expect(sdc.done).toEqual({ ok: false, error: 'I/O error writing /dev/sdc at byte 41943040' });
    expect(stickLine(sdc)).toBe('Failed: I/O error writing /dev/sdc at byte 41943040');
    expect(stickFraction(sdc)).toBe(1);
  });

  it('marks a failed drive at once while the other is still writing, and keeps it failed', () => {
    let state = startWrite(['/dev/sdb', '/dev/sdc']);
    state = applyProgress(state, drive('/dev/sdb', 'writing', 10, 100));
    state = applyProgress(state, { kind: 'drive_done', device: '/dev/sdc', error: 'too small' });
    expect(state.sticks[0].done).toBeNull();
    expect(stickLine(state.sticks[0])).toBe('Writing · 10 B of 100 B · 20.0 MB/s · 3 s left');
    expect(state.sticks[1].done).toEqual({ ok: false, error: 'too small' });
    // A late progress event does not bring a failed drive back to life.
    state = applyProgress(state, drive('/dev/sdc', 'writing', 20, 100));
    expect(state.sticks[1].done).toEqual({ ok: false, error: 'too small' });
  });

  it('shows the checksum step while the image is checked and nothing before', () => {
    let state = startWrite(['/dev/sdb']);
    expect(preparingStep(state)).toBeNull();
    expect(stickLine(state.sticks[0])).toBe('Waiting for the image…');
    state = applyProgress(state, { kind: 'checksum', bytes_done: 5, bytes_total: 10 });
    expect(preparingStep(state)).toBe('checksum');
    expect(state.checksum).toEqual({ bytes_done: 5, bytes_total: 10 });
  });

  it('gives a drive it did not announce a row of its own', () => {
    const state = applyProgress(startWrite(['/dev/sdb']), drive('/dev/sdd', 'writing', 1, 2));
    expect(state.sticks.map((s) => s.device)).toEqual(['/dev/sdb', '/dev/sdd']);
  });

  it('says honestly how many drives were written', () => {
    const written = { outcome: 'written', device: '/dev/sdb' } as StickOutcome;
    const failed = { outcome: 'failed', device: '/dev/sdc' } as StickOutcome;
    expect(outcomeSummary([written])).toEqual({ title: 'Written and verified', allOk: true });
    expect(outcomeSummary([written, written])).toEqual({ title: 'All 2 drives written and verified', allOk: true });
    expect(outcomeSummary([written, failed])).toEqual({ title: '1 of 2 drives written and verified, 1 failed', allOk: false });
    expect(outcomeSummary([failed, failed]).allOk).toBe(false);
  });

  it('needs the tick for all and the typed name of each internal disk', () => {
    const stick = drive_('/dev/sdb');
    const internal = drive_('/dev/sda', { removable: false });
    expect(allConfirmed([], true, {})).toBe(false);
    expect(allConfirmed([stick], true, {})).toBe(true);
    expect(allConfirmed([stick, internal], true, {})).toBe(false);
    expect(allConfirmed([stick, internal], true, { '/dev/sda': 'sda' })).toBe(true);
    expect(allConfirmed([stick, internal], false, { '/dev/sda': 'sda' })).toBe(false);
    expect(confirmationSentenceAll([stick, internal])).toBe(
      'Erase everything on these 2 drives: SanDisk Ultra (14.9 GiB, /dev/sdb), SanDisk Ultra (14.9 GiB, /dev/sda)',
    );
  });
});

function drive_(path: string, overrides: Partial<DriveChoice> = {}): DriveChoice {
  return drive({ path, ...overrides });
}

describe('image files', () => {
  it('lays out genpack images and their ZIP exports, writes disk images as they are', () => {
    expect(isLaidOut({ kind: 'genpack' })).toBe(true);
    expect(isLaidOut({ kind: 'genpack_zip' })).toBe(true);
    expect(isLaidOut({ kind: 'disk', compression: 'none' })).toBe(false);
    expect(imageKindText({ kind: 'disk', compression: 'xz' })).toContain('xz-compressed');
    expect(imageKindText({ kind: 'disk', compression: 'none' })).toBe('disk image, written as it is');
  });

  it('asks a drive for room for the boot files only when the image is laid out', () => {
    const MiB = 1 << 20;
    expect(minimumDriveBytes({ path: 'a.squashfs', bytes: 100 * MiB, built: true, kind: { kind: 'genpack' } })).toBe(124 * MiB);
    expect(minimumDriveBytes({ path: 'a.iso', bytes: 100 * MiB, built: false, kind: { kind: 'disk', compression: 'none' } })).toBe(100 * MiB);
    expect(minimumDriveBytes(null)).toBe(0);
  });
});
