// The shapes the studio's commands take and return, generated from their Rust types (src-tauri
// and the engine crates) by ts-rs. Do not edit: change the Rust type, then regenerate with
//   GENPACK_UPDATE_TYPES=1 cargo test -p genpack-studio --bin genpack-studio ipc_types

/**
 * How QEMU executes guest code.
 */
export type Accel = "kvm" | "tcg";

/**
 * The engine's reading of a definition text.
 */
export type Analysis = {
  /**
   * The document as plain data, exactly as written (None when the text is not JSON5).
   */
  value: JsonValue | null,
  /**
   * The typed definition (None when the text cannot be read as one).
   */
  definition: JsonValue | null,
  /**
   * Errors, warnings and notes with line:column.
   */
  diagnostics: Array<Diagnostic>,
  /**
   * The architectures the definition builds for.
   */
  arches: Array<string>,
  /**
   * The variant names, in file order.
   */
  variants: Array<string>,
  /**
   * Why the package names were not checked against the base's package index (none on
   * disk before the first build), when they were not.
   */
  packages_unchecked: string | null, };

/**
 * A binary package host to take prebuilt packages from.
 */
export type Binhost = {
  /**
   * Its URL (`http://builder:8080/`, or Gentoo's own binhost for the profile).
   */
  url: string,
  /**
   * Accept only packages signed by a key in Portage's keyring (`/etc/portage/gnupg`).
   */
  verify_signature: boolean, };

/**
 * The machine types and variants a project can be built for.
 */
export type BuildChoices = {
  /**
   * Every architecture the builder knows, the host's first.
   */
  arches: Array<string>,
  /**
   * The host's architecture, the default choice.
   */
  host_arch: string | null,
  /**
   * The definition's variants, in file order.
   */
  variants: Array<string>,
  /**
   * The variant built when none is chosen.
   */
  default_variant: string | null,
  /**
   * The image is built on Gentoo: the emerge settings apply.
   */
  gentoo: boolean, };

/**
 * The image a build makes for one architecture and variant, and whether it exists yet.
 */
export type BuildOutput = {
  /**
   * `<project>/<outfile>`.
   */
  image: string,
  /**
   * Whether the file exists.
   */
  exists: boolean,
  /**
   * Its size in bytes, when it exists.
   */
  bytes: number | null,
  /**
   * Whether a base layer is there to reuse (it is remade when its packages changed).
   */
  base_layer_ready: boolean,
  /**
   * About how long the next build takes, in seconds, from this project's past builds on
   * this machine; `None` before the first of its kind.
   */
  estimate_s: number | null, };

/**
 * Top-level phases of a build.
 */
export type BuildPhase = "lower" | "upper" | "pack";

/**
 * One progress event.
 */
export type BuildProgress = { "kind": "phase",
  /**
   * The phase.
   */
  phase: BuildPhase,
  /**
   * 1-based position of the phase in this run.
   */
  index: number,
  /**
   * Number of phases in this run.
   */
  count: number, } | { "kind": "step",
  /**
   * The phase.
   */
  phase: BuildPhase,
  /**
   * Step name; also the stem of its log file.
   */
  name: string,
  /**
   * 1-based position of the step.
   */
  index: number,
  /**
   * Number of steps in the phase.
   */
  count: number, } | { "kind": "amount",
  /**
   * The phase.
   */
  phase: BuildPhase,
  /**
   * What is counted.
   */
  unit: BuildUnit,
  /**
   * Done so far.
   */
  done: number,
  /**
   * Expected total, when known.
   */
  total: number | null,
  /**
   * Units per second since the step started.
   */
  rate: number | null,
  /**
   * Estimated time left.
   */
  eta: { secs: number, nanos: number } | null, } | { "kind": "log",
  /**
   * Step name.
   */
  step: string,
  /**
   * The line, without its newline.
   */
  line: string, } | { "kind": "note",
  /**
   * The phase.
   */
  phase: BuildPhase,
  /**
   * Human-readable message.
   */
  message: string, };

/**
 * What a finished build made.
 */
export type BuildResult = {
  /**
   * The SquashFS image.
   */
  image: string,
  /**
   * Its size in bytes.
   */
  bytes: number,
  /**
   * Wall-clock seconds of the whole build.
   */
  seconds: number,
  /**
   * Packages in the runtime closure copied into the image.
   */
  packages: number,
  /**
   * Whether the base layer was rebuilt (else it was reused).
   */
  lower_rebuilt: boolean,
  /**
   * Gentoo: packages compiled from source in this build.
   */
  compiled_packages: number,
  /**
   * Gentoo: packages installed from binary packages (local cache or binhost).
   */
  binary_packages: number,
  /**
   * Packages downloaded (Gentoo: binary packages from a binhost).
   */
  downloaded_packages: number, };

/**
 * What an [`Progress::Amount`] counts.
 */
export type BuildUnit = "packages" | "files" | "bytes" | "percent";

/**
 * The gallery's sections, in the order the gallery lists them.
 */
export type Category = "Desktop" | "Server" | "Network" | "Security" | "Media" | "Tools" | "Starter";

/**
 * Why a command could not do what was asked.
 */
export type CommandError = {
  /**
   * What kind of failure.
   */
  kind: ErrorKind,
  /**
   * The engine's message, for the user as it is.
   */
  message: string,
  /**
   * What to do next, when known.
   */
  hint: string | null,
  /**
   * The cause in one plain sentence, when the engine can tell it from the failure (a
   * build's log names a missing package): shown first, the message folded away.
   */
  cause: FailureCause | null, };

/**
 * How to reach a running VM.
 */
export type ConnectInfo = {
  /**
   * Logging in over SSH, when a host port reaches the guest's port 22.
   */
  ssh: SshAccess | null,
  /**
   * The web pages the appliance serves, on their forwarded host ports.
   */
  web: Array<WebLink>,
  /**
   * Every forwarded port with what answers there.
   */
  forwards: Array<ForwardedPort>,
  /**
   * Logging in on the screen or the serial console.
   */
  console: ConsoleLogin, };

/**
 * What the console view receives, tagged by `kind`.
 */
export type ConsoleEvent = { "kind": "output", text: string, } | { "kind": "closed" };

/**
 * How to log in on the screen or the serial console.
 */
export type ConsoleLogin = {
  /**
   * system.ini turns on automatic login (as root).
   */
  autologin: boolean,
  /**
   * The account to type at the `login:` prompt, when one logs in without a password.
   */
  user: string | null,
  /**
   * One sentence for people.
   */
  advice: string, };

/**
 * One problem in a definition file.
 *
 * Lines and columns are 1-based; columns count Unicode characters. `end_line`/`end_column`
 * point just past the offending text. `path` names the place in the definition, like
 * `packages[3]` or `use."media-libs/mesa"` (empty for the whole file).
 */
export type Diagnostic = {
  /**
   * Error or warning.
   */
  severity: DiagnosticSeverity,
  /**
   * What is wrong, in one sentence.
   */
  message: string,
  /**
   * The definition file.
   */
  file: string,
  /**
   * Line of the first offending character.
   */
  line: number,
  /**
   * Column of the first offending character.
   */
  column: number,
  /**
   * Line just past the offending text.
   */
  end_line: number,
  /**
   * Column just past the offending text.
   */
  end_column: number,
  /**
   * Where in the definition, like `variants.cuda.use."sci-ml/caffe2"`.
   */
  path: string,
  /**
   * What to do about it, when there is something specific to say.
   */
  help: string | null, };

/**
 * How serious a [`Diagnostic`] is.
 */
export type DiagnosticSeverity = "error" | "warning";

/**
 * A drive as the picker shows it.
 */
export type DriveChoice = {
  /**
   * Device node, e.g. `/dev/sdb`.
   */
  path: string,
  /**
   * What to show and confirm: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
   */
  description: string,
  /**
   * Vendor and model (for a loop device: its backing file), or the bus when unknown.
   */
  name: string, vendor: string | null, model: string | null, serial: string | null,
  /**
   * Size in bytes, and for people (`14.9 GiB`).
   */
  size: number, size_text: string,
  /**
   * `usb`, `mmc`, `ata`, `nvme`, `loop`...
   */
  bus: string,
  /**
   * `false` for an internal disk, offered only when all drives are shown.
   */
  removable: boolean,
  /**
   * For a loop device: the file behind it.
   */
  backing_file: string | null,
  /**
   * Changes when another medium appears at this path; the write checks it.
   */
  diskseq: number | null,
  /**
   * Labels of the filesystems on it now, which a write erases.
   */
  labels: Array<string>, };

/**
 * The drives to offer, and how many internal drives the "show all" switch would add.
 */
export type DriveList = { drives: Array<DriveChoice>,
  /**
   * Internal disks left out because all drives are not shown.
   */
  hidden_internal: number, };

/**
 * A drive came, went or changed: the window lists the drives again.
 */
export type DrivesChanged = {
  /**
   * The device node concerned.
   */
  path: string, };

/**
 * One change a form asks for.
 */
export type EditOp = { "op": "set", path: Array<PathStep>, value: JsonValue, } | { "op": "append", path: Array<PathStep>, value: JsonValue, } | { "op": "remove", path: Array<PathStep>, };

/**
 * The text after form edits, with its reading.
 */
export type EditResult = { text: string,
  /**
   * The document as plain data, exactly as written (None when the text is not JSON5).
   */
  value: JsonValue | null,
  /**
   * The typed definition (None when the text cannot be read as one).
   */
  definition: JsonValue | null,
  /**
   * Errors, warnings and notes with line:column.
   */
  diagnostics: Array<Diagnostic>,
  /**
   * The architectures the definition builds for.
   */
  arches: Array<string>,
  /**
   * The variant names, in file order.
   */
  variants: Array<string>,
  /**
   * Why the package names were not checked against the base's package index (none on
   * disk before the first build), when they were not.
   */
  packages_unchecked: string | null, };

/**
 * What ejecting did, for the user.
 */
export type EjectResult = {
  /**
   * Whether the drive was ejected (or powered off) by UDisks2.
   */
  ejected: boolean, message: string, };

/**
 * How emerge runs in a Gentoo lower. None of this changes what an image contains, so it is
 * not part of the lower's inputs: a build with other options reuses the lower.
 */
export type EmergeOptions = {
  /**
   * Build several packages at once: `--jobs=N --load-average=N`.
   */
  jobs: number | null,
  /**
   * Remove build-time-only packages straight away: `--depclean --with-bdeps=n`.
   */
  deep_depclean: boolean,
  /**
   * A binary package host to take prebuilt packages from (written to
   * `/etc/portage/binrepos.conf`, emerge gets `--getbinpkg`). The URL
   * [`OFFICIAL_BINHOST`] stands for Gentoo's own binhost of the target architecture.
   */
  binhost: Binhost | null,
  /**
   * distcc servers (`127.0.0.1:3632/4`): `FEATURES=distcc` with `DISTCC_HOSTS`.
   */
  distcc_hosts: Array<string>,
  /**
   * Sign every binary package this builder makes, so others can check them
   * (Portage's `binpkg-signing`).
   */
  sign_binpkgs: SigningKey | null,
  /**
   * OpenPGP public keys (armored files) whose signatures binhost packages may carry:
   * imported, fully trusted, into the lower's `/etc/portage/gnupg`, the keyring Portage
   * checks `verify-signature` binhosts against.
   */
  binhost_keys: Array<string>, };

/**
 * What kind of failure it is, for the window to branch on.
 */
export type ErrorKind = "not_found" | "not_a_project" | "io" | "invalid" | "definition" | "gallery" | "build" | "cancelled" | "vm" | "drive" | "install" | "ini";

/**
 * The kinds of file an image can be exported as.
 */
export type ExportFormat = "disk" | "iso" | "zip";

/**
 * A failure's cause in plain words, and the definition field it is about.
 */
export type FailureCause = {
  /**
   * One sentence: "Debian has no package named ngnix."
   */
  sentence: string,
  /**
   * The place in genpack.json5 to fix, like `packages[1]`, when there is one.
   */
  field: string | null, };

/**
 * How the image is laid out on the drive or in an exported file, as the window chose it.
 */
export type FlashLayout = {
  /**
   * A system.ini to put next to the image on the boot partition.
   */
  system_ini: string | null,
  /**
   * FAT volume label of the boot partition; the engine checks it.
   */
  label: string | null,
  /**
   * Add a data partition filling the rest of the drive (kept across image updates).
   */
  data_partition: boolean,
  /**
   * The partition table, which decides the firmware that boots it.
   */
  table: FlashTable, };

/**
 * The step a write is in.
 */
export type FlashPhase = "preparing" | "writing" | "verifying" | "finishing";

/**
 * One progress report of a write to a drive.
 */
export type FlashProgress = { "kind": "checksum",
  /**
   * Bytes of the file read.
   */
  bytes_done: number,
  /**
   * The file's length.
   */
  bytes_total: number, } | { "kind": "layout" } | { "kind": "drive",
  /**
   * The drive this is about.
   */
  device: string,
  /**
   * Preparing, writing, verifying or finishing.
   */
  phase: FlashPhase,
  /**
   * Bytes done in this phase.
   */
  bytes_done: number,
  /**
   * Bytes of this phase.
   */
  bytes_total: number,
  /**
   * Recent speed.
   */
  bytes_per_second: number,
  /**
   * Seconds left in this phase at the recent speed.
   */
  eta_secs: number | null, } | { "kind": "drive_done",
  /**
   * The drive this is about.
   */
  device: string,
  /**
   * Why it failed; `None` when it was written and verified.
   */
  error: string | null, };

/**
 * What to write where: the drives as the user confirmed them.
 */
export type FlashRequest = {
  /**
   * A genpack image (.squashfs), a ZIP genpack exported, or a disk image (.img, .iso,
   * compressed .img.xz, .img.zst, .img.gz), as [`flash_image`] tells.
   */
  image: string,
  /**
   * The confirmed drives: the image is read once and written to all of them at once.
   */
  drives: Array<SeenDrive>,
  /**
   * The user switched on "show all drives" (internal disks may be written).
   */
  show_all: boolean, layout: FlashLayout, };

/**
 * What a verified write did.
 */
export type FlashResult = {
  /**
   * The drive, for people: `"SanDisk Ultra, 14.9 GiB (/dev/sdb)"`.
   */
  drive: string,
  /**
   * Its device node.
   */
  device: string,
  /**
   * The partition table: `mbr`, `gpt`, `none` for a superfloppy, or `image` for a disk
   * image written as it is.
   */
  table: string,
  /**
   * Whether GRUB for BIOS was written (else UEFI only).
   */
  bios_boot: boolean,
  /**
   * The boot partition's volume id (`ABCD-1234`).
   */
  volume_id: string,
  /**
   * Bytes of the disk image written (the rest of the drive is left as it was).
   */
  image_bytes: number,
  /**
   * Bytes read back and compared.
   */
  bytes_verified: number,
  /**
   * Time spent writing, and reading back.
   */
  write_seconds: number,
  /**
   * Time spent reading back and comparing.
   */
  verify_seconds: number, };

/**
 * The layout asked for.
 */
export type FlashTable = "auto" | "mbr" | "gpt" | "superfloppy";

/**
 * One forwarded port.
 */
export type ForwardedPort = {
  /**
   * What answers there, when the definition names it.
   */
  name: string | null,
  /**
   * `tcp` or `udp`.
   */
  protocol: string,
  /**
   * The host address.
   */
  host: string,
  /**
   * The port on this machine.
   */
  host_port: number,
  /**
   * The port inside the appliance.
   */
  guest_port: number, };

/**
 * What a Gentoo build of a definition needs.
 */
export type GentooNeeds = {
  /**
   * MiB the base still downloads (stage3 and Portage tree); 0 when both are cached.
   */
  base_download_mib: number,
  /**
   * Both are in the download cache already.
   */
  base_cached: boolean,
  /**
   * The mirror the base comes from (`GENPACK_GENTOO_MIRROR`, else Gentoo's).
   */
  mirror: string,
  /**
   * About how long the first build takes, in seconds.
   */
  expected_s: number,
  /**
   * `expected_s` comes from past builds on this machine (else it is an estimate).
   */
  from_history: boolean, };

/**
 * An image file as [`inspect_image`] sees it.
 */
export type ImageFile = {
  /**
   * What it is.
   */
  kind: ImageKind,
  /**
   * Bytes it takes on a drive, when known: a genpack image's own size (the layout adds
   * boot files), a disk image's decompressed size.
   */
  bytes: number | null, };

/**
 * What kind of file an image to write is, as [`write_to_drives`] treats it.
 */
export type ImageKind = { "kind": "genpack" } | { "kind": "genpack_zip" } | { "kind": "disk",
  /**
   * `none` for a raw image (`.img`, a hybrid `.iso`), else `xz`, `zstd` or `gzip`.
   */
  compression: string, };

/**
 * The engine's reading of a system.ini text.
 */
export type IniAnalysis = { sections: Array<IniSection>,
  /**
   * Parse problems and validation findings, by line.
   */
  issues: Array<IniIssue>, };

/**
 * Sets `key` in `section` to `value`, or removes it when `value` is None.
 */
export type IniEdit = { section: string, key: string, value: string | null, };

/**
 * The text after form edits, with its reading.
 */
export type IniEditResult = { text: string, sections: Array<IniSection>,
  /**
   * Parse problems and validation findings, by line.
   */
  issues: Array<IniIssue>, };

/**
 * A key and its value, as listed by [`Document::entries`].
 */
export type IniEntry = {
  /**
   * The key as written in the file.
   */
  key: string,
  /**
   * The value as [`Document::get`] returns it.
   */
  value: string,
  /**
   * 1-based line of the key.
   */
  line: number, };

/**
 * One finding, tied to a line of the file.
 */
export type IniIssue = {
  /**
   * 1-based line.
   */
  line: number,
  /**
   * Section of the key, if the issue concerns a key.
   */
  section: string | null,
  /**
   * The key as written, if the issue concerns a key.
   */
  key: string | null,
  /**
   * How serious it is.
   */
  severity: IniSeverity,
  /**
   * Plain-language description with what to do.
   */
  message: string, };

/**
 * One key an image understands.
 */
export type IniKeySpec = {
  /**
   * Section; `_default` for keys written before any header.
   */
  section: string,
  /**
   * Key name (lower case).
   */
  key: string,
  /**
   * Short label for a form field.
   */
  title: string,
  /**
   * Value type.
   */
  kind: IniKind,
  /**
   * What happens when the key is not set, written as a value (None: nothing is done).
   */
  default?: string | null,
  /**
   * Plain-language explanation for people who are not Linux experts.
   */
  help: string,
  /**
   * The boot-time module that reads the key (for genpack-init's own keys, the module
   * name as `genpack-init modules` lists it).
   */
  module: string,
  /**
   * Whether a change takes effect at the next boot (false: applied once only).
   */
  applied_every_boot: boolean,
  /**
   * Form group, e.g. "System", "Network", "Wi-Fi", "Access".
   */
  group: string, };

/**
 * The type of a value; it decides the form control and the validation.
 */
export type IniKind = { "type": "bool" } | { "type": "string" } | { "type": "password" } | { "type": "int", min?: number | null, max?: number | null, } | { "type": "enum", values: Array<string>, } | { "type": "timezone" } | { "type": "locale" } | { "type": "ssh_keys" } | { "type": "hostname" } | { "type": "country_code" } | { "type": "ipv4_cidr" } | { "type": "ipv4_address" } | { "type": "ipv6_cidr" } | { "type": "ipv6_address" } | { "type": "ip_addresses" } | { "type": "file_name" };

/**
 * The keys an image understands.
 */
export type IniSchema = {
  /**
   * Keys in display order.
   */
  keys: Array<IniKeySpec>, };

/**
 * One section of the file with its keys, in file order.
 */
export type IniSection = { name: string, entries: Array<IniEntry>, };

/**
 * How serious an issue is.
 */
export type IniSeverity = "error" | "warning" | "info";

/**
 * An opened system.ini.
 */
export type IniView = { path: string, text: string, sections: Array<IniSection>,
  /**
   * Parse problems and validation findings, by line.
   */
  issues: Array<IniIssue>, };

/**
 * The kind of an input device.
 */
export type InputBus = "ps2" | "virtio" | "usb";

/**
 * The keyboard and pointer of a VM.
 */
export type InputDevices = {
  /**
   * What the guest reads keys from; `None` when its kernel has no driver for any keyboard
   * QEMU can offer (keys typed on the screen cannot reach it).
   */
  keyboard: InputBus | null,
  /**
   * What the guest reads the pointer from (absolute tablets before the relative PS/2
   * mouse); `None` when no pointer reaches it.
   */
  pointer: InputBus | null, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * Numbers measured by building and booting the template (`make test-appliances`), so the
 * gallery states them instead of guessing. Times are in seconds, on a 2-core machine with
 * QEMU TCG.
 */
export type Measured = {
  /**
   * First build of a new project with an empty package cache (downloads included).
   */
  build_cold_s: number,
  /**
   * The same build again, with the base layer up to date.
   */
  build_warm_s: number,
  /**
   * Size of the image file in MiB.
   */
  image_mib: number,
  /**
   * From starting the VM to the appliance's service answering from the host.
   */
  boot_to_service_s: number,
  /**
   * Day of the measurement, `YYYY-MM-DD`.
   */
  date: string, };

/**
 * One step of a path as the window sends it: a key or a list index.
 */
export type PathStep = number | string;

/**
 * What creating a project named `name` in `parent_dir` would meet, checked as it is typed:
 * the engine's name rule (the same as `genpack new`), a valid name made from the text, and the
 * folder.
 */
export type ProjectPlace = {
  /**
   * Why the name is refused, in words; `None` when it is fine.
   */
  name_problem: string | null,
  /**
   * A valid name made from what was typed (`My Web Server` -> `my-web-server`), when it
   * differs from it.
   */
  suggestion: string | null,
  /**
   * `<parent_dir>/<name>`.
   */
  target: string,
  /**
   * `parent_dir` does not exist yet (creating the project can make it).
   */
  folder_missing: boolean,
  /**
   * Why the project cannot go to `target` (a non-empty folder, a file), if so.
   */
  target_problem: string | null, };

/**
 * An opened project.
 */
export type ProjectView = { dir: string, file: string,
  /**
   * The image name (the definition's `name`, else the folder name).
   */
  name: string, text: string,
  /**
   * The project's system.ini, when it has one.
   */
  system_ini: string | null,
  /**
   * The document as plain data, exactly as written (None when the text is not JSON5).
   */
  value: JsonValue | null,
  /**
   * The typed definition (None when the text cannot be read as one).
   */
  definition: JsonValue | null,
  /**
   * Errors, warnings and notes with line:column.
   */
  diagnostics: Array<Diagnostic>,
  /**
   * The architectures the definition builds for.
   */
  arches: Array<string>,
  /**
   * The variant names, in file order.
   */
  variants: Array<string>,
  /**
   * Why the package names were not checked against the base's package index (none on
   * disk before the first build), when they were not.
   */
  packages_unchecked: string | null, };

/**
 * The transport protocol of a [`ServicePort`].
 */
export type Protocol = "tcp" | "udp";

/**
 * One recently opened project as the start page shows it.
 */
export type RecentProject = {
  /**
   * The project folder.
   */
  dir: string,
  /**
   * The folder's name, which is the project's default name.
   */
  name: string,
  /**
   * Whether the folder still holds a genpack.json5.
   */
  exists: boolean, };

/**
 * What [`restore_drive`] made.
 */
export type RestoreReport = {
  /**
   * The drive, for people.
   */
  drive: string,
  /**
   * Where the partition starts, in bytes (1 MiB).
   */
  partition_start: number,
  /**
   * Its size in bytes.
   */
  partition_size: number,
  /**
   * The FAT volume id (`ABCD-1234`).
   */
  volume_id: string,
  /**
   * The FAT volume label.
   */
  label: string, };

/**
 * The life-cycle state of a VM.
 */
export type RunState = "starting" | "running" | "stopping" | "stopped";

/**
 * Where the schema in use came from.
 */
export type SchemaOrigin = { "from": "image",
  /**
   * The image file.
   */
  image: string,
  /**
   * When it was built, in seconds since the epoch (its `/.genpack` record, else the
   * file's modification time).
   */
  built_at: number | null, } | { "from": "disk",
  /**
   * The stick, disk or disk image.
   */
  disk: string,
  /**
   * When the image was built, in seconds since the epoch, when it says.
   */
  built_at: number | null, } | { "from": "builtin",
  /**
   * Why no image's own schema is used, as a sentence for people.
   */
  reason: string, };

/**
 * The drive as the user saw it in the picker when they confirmed it.
 */
export type SeenDrive = {
  /**
   * Its device node.
   */
  path: string,
  /**
   * Its size in bytes.
   */
  size: number,
  /**
   * The medium's sequence number, when the kernel gives one.
   */
  diskseq: number | null,
  /**
   * Model and serial number, when known.
   */
  model: string | null, serial: string | null, };

/**
 * A network service the appliance offers: a VM run forwards a host port to it, and front
 * ends show how to reach it.
 */
export type ServicePort = {
  /**
   * The port inside the appliance, e.g. 80.
   */
  port: number,
  /**
   * `tcp` (the default) or `udp`.
   */
  protocol: Protocol,
  /**
   * What answers there, for people: "Web site", "SMB file sharing".
   */
  name: string,
  /**
   * Set when a browser can open it: `http` or `https`.
   */
  web?: WebScheme | null,
  /**
   * The page to open, starting with `/` (default `/`).
   */
  path?: string | null, };

/**
 * Whose settings the editor shows: it decides which image's keys the form offers.
 */
export type SettingsFor = { "kind": "project", dir: string, } | { "kind": "image", path: string, } | { "kind": "stick", drive: string, } | { "kind": "builtin" };

/**
 * A schema and where it came from.
 */
export type SettingsSchema = {
  /**
   * The keys the form shows and validation knows.
   */
  schema: IniSchema,
  /**
   * Where they came from.
   */
  origin: SchemaOrigin, };

/**
 * An OpenPGP key to sign binary packages with.
 */
export type SigningKey = {
  /**
   * The GnuPG home holding the secret key (without a passphrase, or with an agent that has
   * it); bound into the build container.
   */
  gnupg_home: string,
  /**
   * The key's fingerprint or user id.
   */
  key: string, };

/**
 * The SSH command and what it needs.
 */
export type SshAccess = {
  /**
   * The command to paste into a terminal, e.g. `ssh -p 2222 admin@127.0.0.1`.
   */
  command: string,
  /**
   * The account it logs in as.
   */
  user: string,
  /**
   * The host address (loopback unless the forward says otherwise).
   */
  host: string,
  /**
   * The host port forwarded to the guest's port 22.
   */
  port: number,
  /**
   * The public keys system.ini lets in, shortened for display (`ssh-ed25519 …you@laptop`).
   */
  keys: Array<string>,
  /**
   * The private key of this machine that matches one of them, passed with `-i`.
   */
  identity: string | null,
  /**
   * Whether logging in can work: false when system.ini lets no key in (no account of an
   * appliance has a password).
   */
  ready: boolean,
  /**
   * One sentence on what to do, for people.
   */
  advice: string, };

/**
 * What the window needs when it starts.
 */
export type Startup = {
  /**
   * The project named on the command line, to open instead of the start page.
   */
  project: string | null,
  /**
   * The recent projects for the start page.
   */
  recents: Array<RecentProject>,
  /**
   * Whether the studio runs as root, which it does not need: it runs as the user, and
   * writing a stick asks for permission through polkit (UDisks2).
   */
  running_as_root: boolean, };

/**
 * The system.ini of a stick, copied out for the editor.
 */
export type StickIni = {
  /**
   * The drive it came from.
   */
  drive: string,
  /**
   * A working copy the editor opens and saves; [`stick_ini_write`] puts it back.
   */
  path: string,
  /**
   * Whether the stick had a system.ini (else the copy starts empty).
   */
  existed: boolean, };

/**
 * What happened to one drive of a write.
 */
export type StickOutcome = { "outcome": "written", device: string, report: FlashResult, } | { "outcome": "failed", device: string, error: CommandError, };

/**
 * How a VM was stopped.
 */
export type StopOutcome = "powered_off" | "quit" | "killed";

/**
 * A template of the gallery.
 */
export type Template = {
  /**
   * The folder name, used to pick the template (`genpack new --template <id>`).
   */
  id: string,
  /**
   * The template folder.
   */
  dir: string,
  /**
   * What `template.json5` says about it.
   */
  meta: TemplateMeta,
  /**
   * How many packages the definition's top-level `packages` list adds.
   */
  package_count: number,
  /**
   * The icon's SVG text, when the icon file exists and is an SVG image.
   */
  icon_svg: string | null,
  /**
   * The id of the template that shares this one's card as its other flavour (set by
   * [`crate::Gallery::open`] from either side's `flavour_of`).
   */
  other_flavour: string | null, };

/**
 * The contents of a template's `template.json5`.
 */
export type TemplateMeta = {
  /**
   * Display name, e.g. "Nextcloud server".
   */
  title: string,
  /**
   * One line for the gallery card.
   */
  summary: string,
  /**
   * A few sentences: what the appliance is for and who would use it.
   */
  description: string,
  /**
   * The gallery section it appears in.
   */
  category: Category,
  /**
   * Search keywords.
   */
  tags: Array<string>,
  /**
   * Path of the SVG icon, relative to the template folder.
   */
  icon: string,
  /**
   * The distribution the image is made from: `gentoo` or `debian:<release>`.
   */
  base: string,
  /**
   * Architectures the template is known to build for.
   */
  arches: Array<string>,
  /**
   * Rough size of the built image, e.g. "350 MB".
   */
  size: string,
  /**
   * The definition's profile, shown as a hint (e.g. "paravirt").
   */
  profile?: string | null,
  /**
   * The template whose card this one shares, as its other flavour (a ready-made Debian
   * template names the compiled Gentoo one, or the other way round).
   */
  flavour_of?: string | null,
  /**
   * Why there is no ready-made flavour of this compiled template, for the card.
   */
  no_ready_made?: string | null,
  /**
   * The services the appliance offers on the network: the definition's `ports` (filled in
   * when the template is loaded; `template.json5` does not repeat them).
   */
  ports?: Array<ServicePort>,
  /**
   * Build time, size and boot time, measured.
   */
  measured?: Measured | null, };

/**
 * What a started VM reports at once.
 */
export type VmStarted = {
  /**
   * The VM's name.
   */
  name: string,
  /**
   * Why this accelerator was chosen ("no /dev/kvm: using TCG").
   */
  accel_reason: string, };

/**
 * A snapshot of a VM's state, cheap to poll (no QMP round trip).
 */
export type VmStatus = {
  /**
   * Life-cycle state.
   */
  state: RunState,
  /**
   * Accelerator, once known.
   */
  accel: Accel | null,
  /**
   * Guest memory in MiB, once known.
   */
  memory_mib: number | null,
  /**
   * vCPUs, once known.
   */
  cpus: number | null,
  /**
   * Start time, seconds since the Unix epoch.
   */
  started_at: number | null,
  /**
   * Seconds since start.
   */
  uptime_secs: number | null,
  /**
   * The screen's keyboard and pointer, once known (`keyboard: None`: keys typed on the
   * screen cannot reach the guest).
   */
  input: InputDevices | null,
  /**
   * Text put in the viewer's clipboard reaches the guest's clipboard (spice-vdagent).
   */
  clipboard: boolean, };

/**
 * What "Run in VM" would boot for a project, architecture and variant.
 */
export type VmTarget = {
  /**
   * The VM's name (its runtime folder and QEMU `-name`): [`genpack_vm::name_for_image`].
   */
  name: string,
  /**
   * The image to boot.
   */
  image: string,
  /**
   * Whether the image has been built.
   */
  built: boolean,
  /**
   * The project's system.ini handed to the guest, when the project has one.
   */
  system_ini: string | null,
  /**
   * The data disk kept between runs unless changes are thrown away.
   */
  data_disk: string,
  /**
   * The image tree of the last build, which boots without packing, when there is one.
   */
  tree: string | null,
  /**
   * The tree is newer than the image (or there is no image): running the tree is the
   * sensible default.
   */
  tree_is_newer: boolean, };

/**
 * Where the screen viewer connects.
 */
export type VmViewer = {
  /**
   * `ws://127.0.0.1:<port>/vnc/<one-time token>`: valid for one connection.
   */
  url: string, };

/**
 * A web page of the appliance.
 */
export type WebLink = {
  /**
   * What the page is ("Web site").
   */
  name: string,
  /**
   * `http://127.0.0.1:<host port>/<path>`.
   */
  url: string,
  /**
   * The port inside the appliance.
   */
  guest_port: number, };

/**
 * How a browser opens a [`ServicePort`].
 */
export type WebScheme = "http" | "https";
