// Typed wrappers over the studio's Tauri commands: the only place the window calls Rust.

import { invoke } from '@tauri-apps/api/core';
import type {
  Analysis,
  CommandError,
  EditOp,
  EditResult,
  Effective,
  IniAnalysis,
  IniEdit,
  IniEditResult,
  IniSchema,
  IniView,
  JsonObject,
  ProjectView,
  RecentProject,
  Startup,
  Template,
} from './types';

/** Turns whatever a failed command threw into a message for the user. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'message' in error) {
    return String((error as CommandError).message);
  }
  return String(error);
}

export const api = {
  startup: () => invoke<Startup>('startup'),
  recentList: () => invoke<RecentProject[]>('recent_list'),
  recentRemove: (dir: string) => invoke<RecentProject[]>('recent_remove', { dir }),

  galleryTemplates: () => invoke<Template[]>('gallery_templates'),
  galleryCreateProject: (templateId: string, name: string, parentDir: string) =>
    invoke<ProjectView>('gallery_create_project', { templateId, name, parentDir }),

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

  iniSchema: () => invoke<IniSchema>('ini_schema'),
  iniTimezones: () => invoke<string[]>('ini_timezones'),
  iniOpen: (path: string) => invoke<IniView>('ini_open', { path }),
  iniAnalyze: (text: string) => invoke<IniAnalysis>('ini_analyze', { text }),
  iniEdit: (text: string, edits: IniEdit[]) => invoke<IniEditResult>('ini_edit', { text, edits }),
  iniSave: (path: string, text: string) => invoke<void>('ini_save', { path, text }),
};

export type Api = typeof api;
