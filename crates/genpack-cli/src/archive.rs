//! `genpack archive`: the definition and the folders that feed a build, as one tar.gz.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flate2::write::GzEncoder;
use flate2::Compression;
use genpack_def::Project;

use crate::report::Failure;
use crate::Context;

/// Folders of a project that a build reads, in the order they are archived.
const PROJECT_FOLDERS: [&str; 6] = [
    "files",
    "savedconfig",
    "patches",
    "kernel",
    "env",
    "overlay",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the archive. Defaults to genpack-<name>.tar.gz in the project folder.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let project = Project::load(&context.project_dir)?;
    let name = project.definition.name.clone().unwrap_or_else(|| {
        project
            .dir
            .canonicalize()
            .ok()
            .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".to_string())
    });
    let output = args
        .output
        .unwrap_or_else(|| project.dir.join(format!("genpack-{name}.tar.gz")));
    let entries = write_archive(&project.dir, &project.file, &output)
        .map_err(|error| Failure::new(format!("cannot write {}: {error}", output.display())))?;
    println!("Wrote {} ({entries} entries).", output.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes the archive next to `output` first and renames it into place, so a failure never leaves
/// a truncated archive behind. Returns the number of entries.
fn write_archive(dir: &Path, definition: &Path, output: &Path) -> std::io::Result<usize> {
    let partial = output.with_extension("gz.partial");
    let result = (|| {
        let file = File::create(&partial)?;
        let mut tar =
            tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::default()));
        tar.follow_symlinks(false);
        let mut entries = 0;
        let definition_name = definition
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("genpack.json5"));
        tar.append_path_with_name(definition, &definition_name)?;
        entries += 1;
        for folder in PROJECT_FOLDERS {
            let path = dir.join(folder);
            if path.is_dir() {
                entries += append_sorted(&mut tar, &path, Path::new(folder))?;
            }
        }
        let mut writer = tar.into_inner()?.finish()?;
        writer.flush()?;
        writer.get_ref().sync_all()?;
        Ok(entries)
    })();
    match result {
        Ok(entries) => {
            fs::rename(&partial, output)?;
            Ok(entries)
        }
        Err(error) => {
            let _ = fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// Appends a folder and everything below it in name order, so the same tree gives the same archive.
fn append_sorted<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &Path,
) -> std::io::Result<usize> {
    tar.append_path_with_name(path, name)?;
    let mut count = 1;
    let mut children: Vec<_> = fs::read_dir(path)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|entry| entry.file_name());
    for child in children {
        let child_name = name.join(child.file_name());
        if child.file_type()?.is_dir() {
            count += append_sorted(tar, &child.path(), &child_name)?;
        } else {
            tar.append_path_with_name(child.path(), &child_name)?;
            count += 1;
        }
    }
    Ok(count)
}
