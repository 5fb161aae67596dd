// Shapes of the data the studio's Tauri commands exchange with the window. They are generated
// from the Rust types of src-tauri and the engine crates into generated/ipc.ts (a test checks
// that file is current; see src-tauri/src/ipc_types.rs). Only shapes the window makes for
// itself are written here.

import type { DiagnosticSeverity, IniSeverity, JsonValue, PathStep } from './generated/ipc';

export type * from './generated/ipc';

/** A JSON object, as the definition and its parts are. */
export type JsonObject = { [key: string]: JsonValue };

/** A location inside the definition: object keys and array indexes. */
export type JsonPath = PathStep[];

/** The merged definition for one architecture and variant, as the builder sees it. */
export type Effective = JsonObject;

/** How serious a marked problem is: a definition's diagnostics or a system.ini's issues. */
export type Severity = DiagnosticSeverity | IniSeverity;

/**
 * A problem the text editors mark and list: a definition's Diagnostic as it is, or a system.ini
 * issue placed at its line.
 */
export interface TextMarker {
  severity: Severity;
  message: string;
  /** From 1. */
  line: number;
  /** From 1, in characters. */
  column: number;
  /** Just past the marked text; without it the marker covers the word at `line`:`column`. */
  end_line?: number;
  end_column?: number;
  help?: string | null;
}
