// Pure rules of the Flash step: when a write is confirmed and how progress is shown (the
// label rule is the engine's: flash_check_label). Kept apart from the components so they are tested on their own.

import type { DriveChoice, FlashLayout, FlashPhase, FlashProgress, FlashTable, ImageKind, SeenDrive, StickOutcome } from '../../lib/types';

/** The image a write or export starts from. */
export interface ChosenImage {
  path: string;
  /** Bytes it takes on a drive, when known. */
  bytes: number | null;
  /** The project's own build (else a file picked by the user). */
  built: boolean;
  /** What the engine says it is; `null` until it has looked. */
  kind: ImageKind | null;
}

/** The files "Choose a file…" offers: genpack images, their ZIP and ISO exports, disk images. */
export const IMAGE_FILTERS: { name: string; extensions: string[] }[] = [
  { name: 'Images (.squashfs, .zip, .iso, .img, .img.xz, .img.zst, .img.gz)', extensions: ['squashfs', 'zip', 'iso', 'img', 'xz', 'zst', 'gz'] },
  { name: 'All files', extensions: ['*'] },
];

/** Whether the image is laid out for the drive, so that settings, label and partition table apply. */
export function isLaidOut(kind: ImageKind | null): boolean {
  return kind === null || kind.kind === 'genpack' || kind.kind === 'genpack_zip';
}

/** What the image is, for people. */
export function imageKindText(kind: ImageKind | null): string {
  if (kind === null) return '';
  switch (kind.kind) {
    case 'genpack':
      return 'genpack image';
    case 'genpack_zip':
      return 'genpack ZIP export: its image is laid out for the stick';
    case 'disk':
      return kind.compression === 'none' ? 'disk image, written as it is' : `${kind.compression}-compressed disk image, decompressed while it is written`;
  }
}

/** Bytes a drive needs for the image: a laid-out image needs room for the boot loader and FAT too. */
export function minimumDriveBytes(image: ChosenImage | null): number {
  if (!image?.bytes) return 0;
  return isLaidOut(image.kind) ? image.bytes + (24 << 20) : image.bytes;
}

/**
 * What the user types to confirm an internal disk: its kernel name (`sda`, `nvme0n1`).
 * A removable drive is confirmed by ticking the box that names it and its size.
 */
export function typedConfirmation(drive: DriveChoice): string {
  return drive.path.split('/').pop() ?? drive.path;
}

/** Whether the user confirmed erasing `drive`: always the tick; for internal disks also its typed name. */
export function isConfirmed(drive: DriveChoice | null, ticked: boolean, typed: string): boolean {
  if (!drive || !ticked) return false;
  if (drive.removable) return true;
  return typed.trim() === typedConfirmation(drive);
}

/**
 * Whether the user confirmed erasing every drive in `drives`: the tick, and for each internal
 * disk its typed name (`typed` maps a drive's path to what was typed for it).
 */
export function allConfirmed(drives: DriveChoice[], ticked: boolean, typed: Record<string, string>): boolean {
  return drives.length > 0 && drives.every((drive) => isConfirmed(drive, ticked, typed[drive.path] ?? ''));
}

/** The sentence the user ticks: names the drive, its size and its device. */
export function confirmationSentence(drive: DriveChoice): string {
  return `Erase everything on ${drive.name} (${drive.size_text}, ${drive.path})`;
}

/** The sentence ticked for several drives: each named with its size and device. */
export function confirmationSentenceAll(drives: DriveChoice[]): string {
  if (drives.length === 1) return confirmationSentence(drives[0]);
  return `Erase everything on these ${drives.length} drives: ${drives.map((d) => `${d.name} (${d.size_text}, ${d.path})`).join(', ')}`;
}

/** The partition tables offered, with the firmware each boots on. */
export const TABLES: { id: FlashTable; title: string; help: string }[] = [
  {
    id: 'auto',
    title: 'BIOS and UEFI (MBR)',
    help: 'Recommended: boots on old and new PCs. Drives over 2 TiB or with 4096-byte sectors get GPT instead (UEFI only on the latter).',
  },
  {
    id: 'gpt',
    title: 'BIOS and UEFI (GPT)',
    help: 'For firmware or tools that want GPT. GPT keeps a copy at the end of the drive, so the whole drive is written, which takes longer.',
  },
  {
    id: 'superfloppy',
    title: 'UEFI only, no partition table',
    help: 'FAT32 over the whole drive, for devices that read only unpartitioned sticks. No data partition.',
  },
];

/** A fresh layout: no settings, the default label and table, no data partition. */
export function defaultLayout(): FlashLayout {
  return { system_ini: null, label: null, data_partition: false, table: 'auto' };
}

/** Whether a data partition can go with `table`: a drive without a partition table has none. */
export function dataPartitionFits(table: FlashTable): boolean {
  return table !== 'superfloppy';
}

/** Drive phases in order, with the words shown for them. */
export const PHASES: { id: FlashPhase; title: string }[] = [
  { id: 'preparing', title: 'Wiping the old partition table' },
  { id: 'writing', title: 'Writing' },
  { id: 'verifying', title: 'Verifying (reading every byte back)' },
  { id: 'finishing', title: 'Writing the partition table' },
];

/** The drive as the user saw it when confirming: the engine refuses to write when it changed. */
export function seenDrive(drive: DriveChoice): SeenDrive {
  return { path: drive.path, size: drive.size, diskseq: drive.diskseq, model: drive.model, serial: drive.serial };
}

/** A byte count for people, binary units like the drive sizes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A speed in MB/s (10^6 bytes, as drives are labelled). */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

/** Time left, rounded for reading: "12 s", "3 min 5 s". */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return minutes > 0 ? `${minutes} min ${whole % 60} s` : `${whole} s`;
}

/** One line under the progress bar: "120.0 MiB of 400.0 MiB · 35.2 MB/s · 8 s left". */
export function progressLine(event: FlashProgress): string {
  if (event.kind === 'layout') return 'Laying out the boot partition, boot loader and image…';
  if (event.kind === 'checksum') return `Checking the image's SHA-256: ${formatBytes(event.bytes_done)} of ${formatBytes(event.bytes_total)}`;
  if (event.kind === 'drive_done') return event.error === null ? `${event.device}: written and verified` : `${event.device} failed: ${event.error}`;
  const parts = [`${formatBytes(event.bytes_done)} of ${formatBytes(event.bytes_total)}`];
  if (event.bytes_per_second > 0) parts.push(formatRate(event.bytes_per_second));
  const eta = formatEta(event.eta_secs);
  if (eta && event.bytes_done < event.bytes_total) parts.push(`${eta} left`);
  return parts.join(' · ');
}

/** The fraction of the whole write done: writing and verifying weigh most. */
export function overallFraction(event: FlashProgress | null): number {
  // The checksum is read before anything is written, like the layout.
  if (event?.kind === 'drive_done') return 1;
  if (!event || event.kind !== 'drive') return 0;
  const weights: Record<FlashPhase, [number, number]> = {
    preparing: [0, 0.02],
    writing: [0.02, 0.5],
    verifying: [0.52, 0.46],
    finishing: [0.98, 0.02],
  };
  const [start, span] = weights[event.phase];
  const fraction = event.bytes_total > 0 ? Math.min(1, event.bytes_done / event.bytes_total) : 1;
  return start + span * fraction;
}

/** One drive's part of a write. */
export interface StickProgress {
  device: string;
  /** Its current phase; `null` until its first event. */
  phase: FlashPhase | null;
  bytes_done: number;
  bytes_total: number;
  bytes_per_second: number;
  eta_secs: number | null;
  /** `null` while it runs; then verified, or failed with the reason (the other drives go on). */
  done: { ok: true } | { ok: false; error: string } | null;
}

/** Everything a write has reported so far: the steps before writing, then each drive on its own. */
export interface WriteState {
  /** The image's SHA-256 check, when there is one (before anything is written). */
  checksum: { bytes_done: number; bytes_total: number } | null;
  /** Laying the image out as a disk image (genpack images and their ZIP exports). */
  layout: boolean;
  sticks: StickProgress[];
}

/** The state of a write to `devices` before its first event. */
export function startWrite(devices: string[]): WriteState {
  return {
    checksum: null,
    layout: false,
    sticks: devices.map((device) => ({ device, phase: null, bytes_done: 0, bytes_total: 0, bytes_per_second: 0, eta_secs: null, done: null })),
  };
}

/** Folds one progress event of the engine into the state; every kind the engine sends is handled. */
export function applyProgress(state: WriteState, event: FlashProgress): WriteState {
  const stick = (device: string, change: (s: StickProgress) => StickProgress): StickProgress[] => {
    // A drive not announced at the start still gets its own row.
    const known = state.sticks.some((s) => s.device === device);
    const sticks = known ? state.sticks : [...state.sticks, ...startWrite([device]).sticks];
    return sticks.map((s) => (s.device === device ? change(s) : s));
  };
  switch (event.kind) {
    case 'checksum':
      return { ...state, checksum: { bytes_done: event.bytes_done, bytes_total: event.bytes_total } };
    case 'layout':
      return { ...state, layout: true };
    case 'drive': {
      const { device, phase, bytes_done, bytes_total, bytes_per_second, eta_secs } = event;
      return { ...state, sticks: stick(device, (s) => (s.done ? s : { ...s, phase, bytes_done, bytes_total, bytes_per_second, eta_secs })) };
    }
    case 'drive_done': {
      const done: StickProgress['done'] = event.error === null ? { ok: true } : { ok: false, error: event.error };
      return { ...state, sticks: stick(event.device, (s) => ({ ...s, done, bytes_per_second: 0, eta_secs: null })) };
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}

/** Which step before writing runs now: the checksum, the layout, or none (the drives are being written). */
export function preparingStep(state: WriteState): 'checksum' | 'layout' | null {
  if (state.sticks.some((s) => s.phase !== null || s.done !== null)) return null;
  if (state.layout) return 'layout';
  if (state.checksum) return 'checksum';
  return null;
}

/** One line for a drive's progress: "Verifying · 120.0 MiB of 400.0 MiB · 35.2 MB/s · 8 s left", or its end. */
export function stickLine(stick: StickProgress): string {
  if (stick.done?.ok) return 'Written and verified';
  if (stick.done) return `Failed: ${stick.done.error}`;
  if (stick.phase === null) return 'Waiting for the image…';
  const title = PHASES.find((p) => p.id === stick.phase)?.title ?? stick.phase;
  return `${title} · ${progressLine({ kind: 'drive', ...stick, phase: stick.phase })}`;
}

/** The fraction of one drive's write done. */
export function stickFraction(stick: StickProgress): number {
  if (stick.done) return 1;
  if (stick.phase === null) return 0;
  return overallFraction({ kind: 'drive', ...stick, phase: stick.phase });
}

/** The result screen's headline: honest about every drive. */
export function outcomeSummary(outcomes: StickOutcome[]): { title: string; allOk: boolean } {
  const ok = outcomes.filter((o) => o.outcome === 'written').length;
  const failed = outcomes.length - ok;
  if (failed === 0) return { title: outcomes.length === 1 ? 'Written and verified' : `All ${ok} drives written and verified`, allOk: true };
  if (ok === 0) return { title: outcomes.length === 1 ? 'The write failed' : `All ${failed} drives failed`, allOk: false };
  return { title: `${ok} of ${outcomes.length} drives written and verified, ${failed} failed`, allOk: false };
}
