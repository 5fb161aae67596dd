//! `genpack ini get|set|edit|check|keys`: system.ini on a stick, disk or disk image, without
//! mounting it, checked against the keys of the image it goes with.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use genpack_ini::{Document, Severity};
use genpack_install::boot_ini::{
    read_system_ini, read_system_ini_bytes, read_system_ini_text, replace_system_ini,
    set_system_ini_value, BootIniError, IniWrite, DEFAULT_SECTION, SYSTEM_INI_BACKUP,
};
use genpack_install::{settings_schema, BootPartitionError, SchemaPlace, SettingsSchema};

use crate::report::{output, Failure};
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IniCommand,
}

#[derive(Debug, Subcommand)]
enum IniCommand {
    /// Print system.ini, or the value of one key.
    Get {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
        /// The key; without it the whole file is printed.
        key: Option<String>,
        /// The section of the key (keys before any [section] header by default).
        #[arg(long, default_value = DEFAULT_SECTION)]
        section: String,
    },
    /// Set one key, keeping comments and every other line as they are.
    Set {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
        /// The key.
        key: String,
        /// The new value.
        value: String,
        /// The section of the key (keys before any [section] header by default).
        #[arg(long, default_value = DEFAULT_SECTION)]
        section: String,
    },
    /// Open system.ini in $VISUAL or $EDITOR and write it back when it changed.
    Edit {
        /// The stick, disk (e.g. /dev/sdb) or disk image file.
        disk: PathBuf,
    },
    /// Check system.ini against the keys its image understands (exit status 1 on an error).
    Check {
        /// A stick, disk or disk image (checked against its system.img), or a system.ini file
        /// (checked against the image its project builds, for --arch and --variant).
        target: PathBuf,
        /// Check against this image file instead.
        #[arg(long, value_name = "IMAGE")]
        image: Option<PathBuf>,
    },
    /// List the keys an image understands, with what each does.
    Keys {
        /// A stick, disk or disk image (its system.img), or a system.ini file of a project;
        /// without it, the image of the project (-C, --arch, --variant).
        target: Option<PathBuf>,
        /// List the keys of this image file instead.
        #[arg(long, value_name = "IMAGE")]
        image: Option<PathBuf>,
    },
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    match args.command {
        IniCommand::Get { disk, key, section } => get(&disk, key.as_deref(), &section),
        IniCommand::Set {
            disk,
            key,
            value,
            section,
        } => {
            let write = set_system_ini_value(&disk, &section, &key, &value).map_err(failure)?;
            report_write(&disk, &write);
            let found = settings_schema(&SchemaPlace::Disk(disk.clone()));
            if found.schema.find(&section, &key).is_none() {
                eprintln!(
                    "note: `{key}` is not a key this image understands; it is kept as written. {}",
                    found.origin.describe()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        IniCommand::Edit { disk } => edit(&disk),
        IniCommand::Check { target, image } => check(context, &target, image),
        IniCommand::Keys { target, image } => keys(context, target.as_deref(), image),
    }
}

/// Where the keys of `target` are described: `--image`, else the stick's own system.img, else
/// (for a system.ini file) the image its project builds.
fn schema_place(context: &Context, target: Option<&Path>, image: Option<PathBuf>) -> SchemaPlace {
    if let Some(image) = image {
        return SchemaPlace::Image(image);
    }
    match target {
        Some(target) if !is_ini_file(target) => SchemaPlace::Disk(target.to_path_buf()),
        _ => {
            let beside = target
                .and_then(Path::parent)
                .filter(|dir| genpack_def::Project::find(dir).is_ok());
            let dir = beside.unwrap_or(&context.project_dir);
            project_image(context, dir).map_or_else(SchemaPlace::NoImage, SchemaPlace::Image)
        }
    }
}

/// A system.ini text file rather than a stick or disk image.
fn is_ini_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("ini"))
        && path.is_file()
}

/// The image the project in `dir` builds for the chosen architecture and variant, or why there
/// is none to read.
fn project_image(context: &Context, dir: &Path) -> Result<PathBuf, String> {
    let project = genpack_def::Project::load(dir).map_err(|_| {
        format!(
            "{} holds no project to take the image from; name one with --image",
            dir.display()
        )
    })?;
    let arch = context.arch_or_host().map_err(|_| {
        "this machine's architecture is not one genpack builds for; pass --arch".to_string()
    })?;
    project
        .image_path(arch, context.variant.as_deref())
        .map_err(|error| {
            format!("the project's image is not known ({error}); `genpack validate` shows why")
        })
}

fn check(context: &Context, target: &Path, image: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let text = if is_ini_file(target) {
        std::fs::read_to_string(target)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", target.display())))?
    } else {
        read_system_ini_text(target)
            .map_err(failure)?
            .ok_or_else(|| Failure::new(format!("{} has no system.ini", target.display())))?
    };
    let found = settings_schema(&schema_place(context, Some(target), image));
    eprintln!("{}", found.origin.describe());
    let issues = genpack_ini::validate(&Document::parse_lenient(&text), &found.schema);
    let mut errors = 0;
    for issue in &issues {
        let severity = match issue.severity {
            Severity::Error => {
                errors += 1;
                "error"
            }
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        output(&format!(
            "{}:{}: {severity}: {}",
            target.display(),
            issue.line,
            issue.message
        ))?;
    }
    let document = Document::parse_lenient(&text);
    let known = known_keys(&document, &found);
    if !known.is_empty() {
        output(&format!("known keys: {}", known.join(", ")))?;
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The keys of `document` the schema describes, as `key` or `[section] key`.
fn known_keys(document: &Document, found: &SettingsSchema) -> Vec<String> {
    let mut known = Vec::new();
    for section in document.sections() {
        for entry in document.entries(&section) {
            if found.schema.find(&section, &entry.key).is_some() {
                known.push(if section == DEFAULT_SECTION {
                    entry.key.clone()
                } else {
                    format!("[{section}] {}", entry.key)
                });
            }
        }
    }
    known
}

fn keys(
    context: &Context,
    target: Option<&Path>,
    image: Option<PathBuf>,
) -> Result<ExitCode, Failure> {
    let found = settings_schema(&schema_place(context, target, image));
    eprintln!("{}", found.origin.describe());
    for group in found.schema.groups() {
        output(&format!("{group}:"))?;
        for spec in found.schema.keys.iter().filter(|spec| spec.group == group) {
            let name = if spec.section == DEFAULT_SECTION {
                spec.key.clone()
            } else {
                format!("[{}] {}", spec.section, spec.key)
            };
            let default = spec
                .default
                .as_deref()
                .map(|value| format!(", default {value}"))
                .unwrap_or_default();
            output(&format!("  {name} ({}{default})", spec.title))?;
            output(&format!("      {}", spec.help))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn get(disk: &Path, key: Option<&str>, section: &str) -> Result<ExitCode, Failure> {
    let Some(key) = key else {
        let text = read_system_ini_text(disk).map_err(failure)?;
        return match text {
            Some(text) => {
                output(text.trim_end_matches('\n'))?;
                Ok(ExitCode::SUCCESS)
            }
            None => Err(
                Failure::new(format!("{} has no system.ini", disk.display())).hint(format!(
                    "create one with `genpack ini set {} hostname NAME`",
                    disk.display()
                )),
            ),
        };
    };
    let doc = read_system_ini(disk).map_err(failure)?;
    // The value exactly as genpack-init reads it at boot, so what cannot be read there fails
    // here too.
    let value = doc.value(section, key).map_err(|error| {
        Failure::new(format!(
            "system.ini on {}, line {}: {error}",
            disk.display(),
            error.line
        ))
        .hint(format!(
            "genpack-init cannot read this value at boot either; set it again with `genpack ini set {} {key} VALUE` (which writes % as %%)",
            disk.display()
        ))
    })?;
    match value {
        Some(value) => {
            output(&value)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "{key} is not set in [{section}] of system.ini on {}",
                disk.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn edit(disk: &Path) -> Result<ExitCode, Failure> {
    let text = match read_system_ini_text(disk) {
        Ok(text) => text.unwrap_or_default(),
        Err(BootIniError::NotUtf8 { valid_up_to, .. }) => latin1_text(disk, valid_up_to)?,
        Err(error) => return Err(failure(error)),
    };
    let scratch = Scratch::create(&text)?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(scratch.path())
        .status()
        .map_err(|e| Failure::new(format!("cannot start the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(Failure::new(format!(
            "the editor `{editor}` failed ({status}); nothing was written"
        ))
        .hint("set VISUAL or EDITOR to the editor you use"));
    }
    let edited = std::fs::read_to_string(scratch.path())
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", scratch.path().display())))?;
    if edited == text {
        println!("system.ini on {} is unchanged.", disk.display());
        return Ok(ExitCode::SUCCESS);
    }
    match replace_system_ini(disk, &edited) {
        Ok(write) => {
            report_write(disk, &write);
            Ok(ExitCode::SUCCESS)
        }
        Err(error @ BootIniError::Parse { .. }) => {
            let kept = scratch.keep();
            Err(Failure::new(error).hint(format!(
                "your text is kept in {}; fix it and run `genpack ini edit` again",
                kept.display()
            )))
        }
        Err(error) => Err(failure(error)),
    }
}

/// A system.ini that is not UTF-8 was most likely saved as Latin-1 (Windows' Notepad in
/// Western Europe): offered for editing as Latin-1 text, written back as UTF-8.
fn latin1_text(disk: &Path, valid_up_to: usize) -> Result<String, Failure> {
    let question = format!(
        "system.ini on {} is not UTF-8 text (the first bad byte is at offset {valid_up_to}).\n\
         Open it as Latin-1 (ISO 8859-1) and save it as UTF-8? [y/N] ",
        disk.display()
    );
    let unattended = format!(
        "system.ini on {} is not UTF-8 text (the first bad byte is at offset {valid_up_to})",
        disk.display()
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Failure::new(unattended)
            .hint("run `genpack ini edit` on a terminal to convert it from Latin-1 to UTF-8"));
    }
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|error| Failure::new(format!("cannot read the answer: {error}")))?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        return Err(Failure::new(unattended).hint("nothing was changed"));
    }
    let bytes = read_system_ini_bytes(disk)
        .map_err(failure)?
        .unwrap_or_default();
    Ok(bytes.iter().map(|&byte| char::from(byte)).collect())
}

/// The text being edited, in a private file under the temporary directory; removed on drop
/// unless kept.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn create(text: &str) -> Result<Self, Failure> {
        use std::os::unix::fs::OpenOptionsExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("genpack-system-{}-{nanos}.ini", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", path.display())))?;
        file.write_all(text.as_bytes())
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
        Ok(Self { path, keep: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn report_write(disk: &Path, write: &IniWrite) {
    if !write.changed {
        println!("system.ini on {} is unchanged.", disk.display());
    } else if write.backed_up {
        println!(
            "Wrote system.ini on {}; the previous text is in {SYSTEM_INI_BACKUP}.",
            disk.display()
        );
    } else {
        println!("Wrote a new system.ini on {}.", disk.display());
    }
}

fn failure(error: BootIniError) -> Failure {
    let hint = match &error {
        BootIniError::Partition(BootPartitionError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Some("check the file's owner and permissions (a stick is opened through UDisks2 and polkit instead)")
        }
        BootIniError::Partition(BootPartitionError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Some("check the device or file name (`lsblk` lists disks)")
        }
        BootIniError::Partition(BootPartitionError::InUse { .. }) => {
            Some("or edit system.ini where the boot partition is mounted")
        }
        BootIniError::Edit { .. } => Some("open the file with `genpack ini edit` to fix it"),
        BootIniError::NoSpace { .. } => {
            Some("make room on the boot partition (remove a file you added there), then try again")
        }
        _ => None,
    };
    let failure = Failure::new(error);
    match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    }
}
