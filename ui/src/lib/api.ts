// Typed wrappers over the studio's Tauri commands: the only place the window calls Rust.

import { invoke, type Channel } from '@tauri-apps/api/core';
import type {
  Analysis,
  BuildChoices,
  BuildOutput,
  BuildProgress,
  BuildResult,
  EmergeOptions,
  CommandError,
  DriveList,
  DrivesChanged,
  EditOp,
  EditResult,
  Effective,
  EjectResult,
  ExportFormat,
  FlashLayout,
  FlashProgress,
  FlashRequest,
  ImageFile,
  IniAnalysis,
  IniEdit,
  IniEditResult,
  IniView,
  JsonObject,
  ProjectPlace,
  ProjectView,
  RestoreReport,
  SeenDrive,
  SettingsFor,
  SettingsSchema,
  RecentProject,
  Startup,
  StickIni,
  StickOutcome,
  Template,
  VmStarted,
  VmStatus,
  ConnectInfo,
  GentooNeeds,
  VmTarget,
  VmViewer,
  ConsoleEvent,
  StopOutcome,
} from './types';

/** Turns whatever a failed command threw into a message for the user. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'message' in error) {
    return String((error as CommandError).message);
  }
  return String(error);
}

/** What the engine says the user can do about a failure, when it knows. */
export function errorHint(error: unknown): string | null {
  if (error && typeof error === 'object' && 'hint' in error) {
    const hint = (error as CommandError).hint;
    return hint ? String(hint) : null;
  }
  return null;
}

/** The message and, when the engine knows one, what to do next: for one-line notices. */
export function errorText(error: unknown): string {
  const hint = errorHint(error);
  return hint ? `${errorMessage(error)} — ${hint}` : errorMessage(error);
}

/** Whether a command failed because the user cancelled it. */
export function isCancelled(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as CommandError).kind === 'cancelled';
}

export const api = {
  startup: () => invoke<Startup>('startup'),
  recentList: () => invoke<RecentProject[]>('recent_list'),
  recentRemove: (dir: string) => invoke<RecentProject[]>('recent_remove', { dir }),

  galleryTemplates: () => invoke<Template[]>('gallery_templates'),
  galleryCheckProject: (name: string, parentDir: string) => invoke<ProjectPlace>('gallery_check_project', { name, parentDir }),
  galleryCreateProject: (templateId: string, name: string, parentDir: string, createFolder: boolean) =>
    invoke<ProjectView>('gallery_create_project', { templateId, name, parentDir, createFolder }),
  gentooNeeds: (packages: number, mirror: string | null) => invoke<GentooNeeds>('gentoo_needs', { packages, mirror }),

  projectOpen: (dir: string) => invoke<ProjectView>('project_open', { dir }),
  definitionSchema: () => invoke<JsonObject>('definition_schema'),
  definitionAnalyze: (text: string, file: string) =>
    invoke<Analysis>('definition_analyze', { text, file }),
  definitionEdit: (text: string, file: string, edits: EditOp[]) =>
    invoke<EditResult>('definition_edit', { text, file, edits }),
  definitionEffective: (text: string, file: string, arch: string, variant: string | null) =>
    invoke<Effective>('definition_effective', { text, file, arch, variant }),
  definitionSave: (file: string, text: string) => invoke<void>('definition_save', { file, text }),
  definitionProfiles: (base: string) => invoke<string[]>('definition_profiles', { base }),
  checkAtom: (atom: string, base: string) => invoke<string | null>('check_atom', { atom, base }),
  checkUseFlags: (flags: string) => invoke<string | null>('check_use_flags', { flags }),

  iniSchema: (settings: SettingsFor) => invoke<SettingsSchema>('ini_schema', { settings }),
  iniTimezones: () => invoke<string[]>('ini_timezones'),
  iniOpen: (path: string, settings: SettingsFor) => invoke<IniView>('ini_open', { path, settings }),
  iniAnalyze: (text: string, settings: SettingsFor) => invoke<IniAnalysis>('ini_analyze', { text, settings }),
  iniEdit: (text: string, edits: IniEdit[], settings: SettingsFor) =>
    invoke<IniEditResult>('ini_edit', { text, edits, settings }),
  iniSave: (path: string, text: string, settings: SettingsFor) => invoke<void>('ini_save', { path, text, settings }),

  buildChoices: (dir: string) => invoke<BuildChoices>('build_choices', { dir }),
  buildOutput: (dir: string, arch: string, variant: string | null) =>
    invoke<BuildOutput>('build_output', { dir, arch, variant }),
  buildStart: (
    dir: string,
    arch: string,
    variant: string | null,
    forceLower: boolean,
    progress: Channel<BuildProgress>,
    emerge: EmergeOptions | null = null,
    mirror: string | null = null,
  ) => invoke<BuildResult>('build_start', { dir, arch, variant, forceLower, emerge, mirror, progress }),
  buildCancel: (dir: string) => invoke<boolean>('build_cancel', { dir }),

  vmTarget: (dir: string, arch: string, variant: string | null) =>
    invoke<VmTarget>('vm_target', { dir, arch, variant }),
  vmStart: (dir: string, arch: string, variant: string | null, volatile: boolean, fromTree = false) =>
    invoke<VmStarted>('vm_start', { dir, arch, variant, volatile, fromTree }),
  vmStatus: (name: string) => invoke<VmStatus>('vm_status', { name }),
  vmConnect: (name: string) => invoke<ConnectInfo>('vm_connect', { name }),
  openWebPage: (url: string) => invoke<void>('open_web_page', { url }),
  vmStop: (name: string, force: boolean) => invoke<StopOutcome>('vm_stop', { name, force }),
  vmScreenshot: (name: string) => invoke<string>('vm_screenshot', { name }),
  vmConsoleTail: (name: string, kib: number) => invoke<string>('vm_console_tail', { name, kib }),
  vmConsoleSend: (name: string, text: string) => invoke<void>('vm_console_send', { name, text }),
  vmReset: (name: string) => invoke<void>('vm_reset', { name }),
  vmViewer: (name: string) => invoke<VmViewer>('vm_viewer', { name }),
  vmConsoleOpen: (name: string, output: Channel<ConsoleEvent>) =>
    invoke<void>('vm_console_open', { name, output }),
  vmConsoleClose: (name: string) => invoke<void>('vm_console_close', { name }),
  vmSaveThumbnail: (dir: string, name: string) => invoke<string>('vm_save_thumbnail', { dir, name }),
  projectThumbnail: (dir: string) => invoke<string | null>('project_thumbnail', { dir }),

  flashDrives: (showAll: boolean) => invoke<DriveList>('flash_drives', { showAll }),
  flashWatchDrives: (events: Channel<DrivesChanged>) => invoke<number>('flash_watch_drives', { events }),
  flashUnwatchDrives: (watch: number) => invoke<void>('flash_unwatch_drives', { watch }),
  flashSettingsDraft: (source: string | null) => invoke<string>('flash_settings_draft', { source }),
  flashExportFormats: () => invoke<ExportFormat[]>('flash_export_formats'),
  flashImage: (image: string) => invoke<ImageFile>('flash_image', { image }),
  flashWrite: (request: FlashRequest, progress: Channel<FlashProgress>) =>
    invoke<StickOutcome[]>('flash_write', { request, progress }),
  flashRestore: (drive: SeenDrive, showAll: boolean, progress: Channel<FlashProgress>) =>
    invoke<RestoreReport>('flash_restore', { drive, showAll, progress }),
  flashCheckLabel: (label: string) => invoke<string | null>('flash_check_label', { label }),
  flashCancel: () => invoke<boolean>('flash_cancel'),
  flashExport: (image: string, destination: string, format: ExportFormat, layout: FlashLayout) =>
    invoke<number>('flash_export', { image, destination, format, layout }),
  flashEject: (drive: string) => invoke<EjectResult>('flash_eject', { drive }),
  stickIniOpen: (drive: string) => invoke<StickIni>('stick_ini_open', { drive }),
  stickIniWrite: (drive: string, path: string) => invoke<boolean>('stick_ini_write', { drive, path }),
};

export type Api = typeof api;
