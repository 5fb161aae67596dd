// Pure rules of the Flash step: when a write is confirmed and how progress is shown (the
// label rule is the engine's: flash_check_label). Kept apart from the components so they are tested on their own.

import type { DriveChoice, FlashLayout, FlashPhase, FlashProgress, FlashTable, SeenDrive } from '../../lib/types';

/** The image a write or export starts from. */
export interface ChosenImage {
  path: string;
  /** Size in bytes, when known. */
  bytes: number | null;
  /** The project's own build (else a file picked by the user). */
  built: boolean;
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

/** The sentence the user ticks: names the drive, its size and its device. */
export function confirmationSentence(drive: DriveChoice): string {
  return `Erase everything on ${drive.name} (${drive.size_text}, ${drive.path})`;
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
  const parts = [`${formatBytes(event.bytes_done)} of ${formatBytes(event.bytes_total)}`];
  if (event.bytes_per_second > 0) parts.push(formatRate(event.bytes_per_second));
  const eta = formatEta(event.eta_secs);
  if (eta && event.bytes_done < event.bytes_total) parts.push(`${eta} left`);
  return parts.join(' · ');
}

/** The fraction of the whole write done: writing and verifying weigh most. */
export function overallFraction(event: FlashProgress | null): number {
  // The checksum is read before anything is written, like the layout.
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
