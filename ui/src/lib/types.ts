// Shapes of the data the studio's Tauri commands exchange with the window.
// They mirror the serde types of src-tauri and the engine crates (genpack-def, genpack-gallery,
// genpack-ini); keep both sides in step.

/** Every command fails with this: a stable `kind`, the engine's message and what to do next. */
export interface CommandError {
  kind: string;
  message: string;
  hint: string | null;
}

export type Severity = 'error' | 'warning' | 'info';

/** One finding about a genpack.json5, located in the text. Lines and columns count from 1. */
export interface Diagnostic {
  severity: Severity;
  message: string;
  file?: string | null;
  line: number;
  column: number;
  end_line?: number | null;
  end_column?: number | null;
  /** Where in the definition it applies, e.g. "packages[2]" or ["packages", 2]. */
  path?: string | (string | number)[] | null;
  help?: string | null;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A location inside the definition: object keys and array indexes. */
export type JsonPath = (string | number)[];

/** One change the form asks the engine's lossless editor to make. */
export type EditOp =
  | { op: 'set'; path: JsonPath; value: JsonValue }
  | { op: 'append'; path: JsonPath; value: JsonValue }
  | { op: 'remove'; path: JsonPath };

/** The engine's reading of a definition text. */
export interface Analysis {
  /** The document as plain data (null when the text cannot be read at all). */
  value: JsonObject | null;
  /** The typed definition (null when the text is not a valid definition). */
  definition: JsonObject | null;
  diagnostics: Diagnostic[];
  arches: string[];
  variants: string[];
}

/** The result of applying form edits: the new text and its reading. */
export interface EditResult extends Analysis {
  text: string;
}

/** An opened project. */
export interface ProjectView extends Analysis {
  dir: string;
  file: string;
  name: string;
  text: string;
  /** The project's system.ini, when it has one. */
  system_ini: string | null;
}

export interface TemplateMeta {
  title: string;
  summary: string;
  description: string;
  category: string;
  tags: string[];
  icon?: string | null;
  base: string;
  arches: string[];
  size?: string | null;
  profile?: string | null;
  /** The template whose card this one shares, as its other flavour (genpack_gallery). */
  flavour_of?: string | null;
  /** Why a compiled template has no ready-made flavour. */
  no_ready_made?: string | null;
  /** Services the appliance offers on the network. */
  ports?: ServicePort[];
  /** Build time, size and boot time measured by `make test-appliances`. */
  measured?: Measured | null;
}

export interface ServicePort {
  port: number;
  protocol?: 'tcp' | 'udp';
  name: string;
  web?: 'http' | 'https' | null;
  path?: string | null;
}

export interface Measured {
  build_cold_s: number;
  build_warm_s: number;
  image_mib: number;
  boot_to_service_s: number;
  /** YYYY-MM-DD */
  date: string;
}

export interface Template {
  id: string;
  dir: string;
  meta: TemplateMeta;
  package_count: number;
  icon_svg?: string | null;
  /** The id of the template sharing this one's card as its other flavour. */
  other_flavour?: string | null;
}

export interface RecentProject {
  dir: string;
  name: string;
  exists: boolean;
}

export interface Startup {
  project: string | null;
  recents: RecentProject[];
}

/** The merged definition for one architecture and variant, as the builder sees it. */
export type Effective = JsonObject;

// ---- system.ini -------------------------------------------------------------------------

/** The type of a system.ini value (genpack_ini::Kind, tagged by `type`). */
export interface IniKind {
  /** "bool", "string", "password", "int", "enum", "timezone", "locale", "ssh_keys", "hostname", ... */
  type: string;
  values?: string[];
  min?: number | null;
  max?: number | null;
}

/** One key the image's boot-time modules read (genpack_ini::KeySpec). */
export interface IniKeySpec {
  section: string;
  key: string;
  title: string;
  kind: IniKind;
  default?: string | null;
  help: string;
  module: string;
  applied_every_boot: boolean;
  group: string;
}

export interface IniSchema {
  keys: IniKeySpec[];
}

export interface IniEntry {
  key: string;
  value: string;
  line: number;
}

export interface IniSection {
  name: string;
  entries: IniEntry[];
}

export interface IniIssue {
  severity: Severity;
  message: string;
  line?: number | null;
  section?: string | null;
  key?: string | null;
}

export interface IniAnalysis {
  sections: IniSection[];
  issues: IniIssue[];
}

export interface IniView extends IniAnalysis {
  path: string;
  text: string;
}

export interface IniEditResult extends IniAnalysis {
  text: string;
}

/** Set `key` in `section` to `value`, or remove it when `value` is null. */
export interface IniEdit {
  section: string;
  key: string;
  value: string | null;
}

/** A phase of a build. */
export type BuildPhase = 'lower' | 'upper' | 'pack';

/** One progress event of a build, as the engine sends it (tagged by `kind`). */
export type BuildProgress =
  | { kind: 'phase'; phase: BuildPhase; index: number; count: number }
  | { kind: 'step'; phase: BuildPhase; name: string; index: number; count: number }
  | {
      kind: 'amount';
      phase: BuildPhase;
      unit: 'packages' | 'files' | 'bytes' | 'percent';
      done: number;
      total: number | null;
      rate: number | null;
      eta: { secs: number; nanos: number } | null;
    }
  | { kind: 'log'; step: string; line: string }
  | { kind: 'note'; phase: BuildPhase; message: string };

export interface BuildChoices {
  arches: string[];
  host_arch: string | null;
  variants: string[];
  default_variant: string | null;
}

export interface BuildOutput {
  image: string;
  exists: boolean;
  bytes: number | null;
}

export interface BuildResult {
  image: string;
  bytes: number;
  seconds: number;
  packages: number;
  lower_rebuilt: boolean;
  compiled_packages: number;
  binary_packages: number;
  downloaded_packages: number;
}

/** How emerge runs for a Gentoo base (genpack_build::EmergeOptions). */
export interface EmergeOptions {
  jobs: number | null;
  deep_depclean: boolean;
  binhost: { url: string; verify_signature: boolean } | null;
  distcc_hosts: string[];
}

export interface VmTarget {
  name: string;
  image: string;
  built: boolean;
  system_ini: string | null;
  data_disk: string;
  /** The image tree of the last build, which runs without packing. */
  tree: string | null;
  /** The tree is newer than the packed image (or there is none): run the tree by default. */
  tree_is_newer: boolean;
}

export interface VmStarted {
  name: string;
  accel_reason: string;
}

export interface VmStatus {
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  accel: 'kvm' | 'tcg' | null;
  memory_mib: number | null;
  cpus: number | null;
  started_at: number | null;
  uptime_secs: number | null;
  /** The screen's keyboard and pointer once known; `keyboard: null`: keys cannot reach the guest. */
  input?: InputDevices | null;
  /** Text put in the viewer's clipboard reaches the guest's clipboard (it runs spice-vdagent). */
  clipboard?: boolean;
}

/** The kind of a VM input device (genpack_vm::InputBus). */
export type InputBus = 'ps2' | 'virtio' | 'usb';

/** The keyboard and pointer a VM's screen has (genpack_vm::InputDevices). */
export interface InputDevices {
  keyboard: InputBus | null;
  pointer: InputBus | null;
}

/** Where noVNC connects: a loopback WebSocket valid for one connection (vm_viewer). */
export interface VmViewer {
  url: string;
}

/** What the serial console view receives (vm_console_open). */
export type ConsoleEvent = { kind: 'output'; text: string } | { kind: 'closed' };

/** How a stop ended (vm_stop). */
export type StopOutcome = 'powered_off' | 'quit' | 'killed';

/** A drive the Flash step may write (flash_drives). */
export interface DriveChoice {
  path: string;
  description: string;
  name: string;
  vendor: string | null;
  model: string | null;
  size: number;
  size_text: string;
  bus: string;
  removable: boolean;
  backing_file: string | null;
  diskseq: number | null;
  serial: string | null;
  labels: string[];
}

export interface DriveList {
  drives: DriveChoice[];
  hidden_internal: number;
}

export interface DrivesChanged {
  path: string;
}

/** How an image is laid out on a drive or in an exported file. */
/** The partition table of a stick or disk image; it decides which firmware boots it. */
export type FlashTable = 'auto' | 'mbr' | 'gpt' | 'superfloppy';

export interface FlashLayout {
  system_ini: string | null;
  label: string | null;
  /** A data partition filling the rest of the drive. */
  data_partition: boolean;
  table: FlashTable;
}

/** The drive as the user saw it when confirming (the engine checks it is still the same). */
export interface SeenDrive {
  path: string;
  size: number;
  diskseq: number | null;
  model: string | null;
  serial: string | null;
}

export interface FlashRequest {
  image: string;
  drive: SeenDrive;
  show_all: boolean;
  layout: FlashLayout;
}

export type FlashPhase = 'preparing' | 'writing' | 'verifying' | 'finishing';

export type FlashProgress =
  | { kind: 'layout' }
  | {
      kind: 'drive';
      phase: FlashPhase;
      bytes_done: number;
      bytes_total: number;
      bytes_per_second: number;
      eta_secs: number | null;
    };

export interface FlashResult {
  drive: string;
  device: string;
  /** 'mbr', 'gpt' or 'none'. */
  table: string;
  bios_boot: boolean;
  volume_id: string;
  image_bytes: number;
  bytes_verified: number;
  write_seconds: number;
  verify_seconds: number;
}

/** What restoring a stick made (flash_restore). */
export interface RestoreReport {
  drive: string;
  partition_start: number;
  partition_size: number;
  volume_id: string;
  label: string;
}

export interface EjectResult {
  ejected: boolean;
  message: string;
}

export interface StickIni {
  drive: string;
  path: string;
  existed: boolean;
}
