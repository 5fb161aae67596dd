//! `genpack archive`: the definition and the folders that feed a build, as one tar.gz.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flate2::write::GzEncoder;
use flate2::Compression;
use genpack_def::Project;

use crate::report::Failure;
use crate::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the archive. Defaults to genpack-<name>.tar.gz in the project folder.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(context: &Context, args: Args) -> Result<ExitCode, Failure> {
    let project = Project::load(&context.project_dir)?;
    let name = project.name();
    let output = args
        .output
        .unwrap_or_else(|| project.dir.join(format!("genpack-{name}.tar.gz")));
    let entries = write_archive(&project, &output)
        .map_err(|error| Failure::new(format!("cannot write {}: {error}", output.display())))?;
    println!("Wrote {} ({entries} entries).", output.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes the archive next to `output` first and renames it into place, so a failure never leaves
/// a truncated archive behind. Returns the number of entries.
fn write_archive(project: &Project, output: &Path) -> std::io::Result<usize> {
    let mut staged = genpack_util::StagedFile::create(output)?;
    let file = staged.file().try_clone()?;
    let mut tar = tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::default()));
    tar.follow_symlinks(false);
    let definition_name = project
        .file
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("genpack.json5"));
    tar.append_path_with_name(&project.file, &definition_name)?;
    let mut entries = 1;
    for folder in project.input_folders() {
        let name = folder
            .strip_prefix(&project.dir)
            .unwrap_or(&folder)
            .to_path_buf();
        entries += append_sorted(&mut tar, &folder, &name)?;
    }
    tar.into_inner()?.finish()?.flush()?;
    staged.commit()?;
    Ok(entries)
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
