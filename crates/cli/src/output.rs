//! Output files, opened before the work starts.
//!
//! A `--trace-out` or `--html` path that cannot be written (a folder that does not exist, a
//! folder in its place, no permission) is found when the command starts, not after a run and
//! its side effects: the file is opened for writing up front and written at the end. A file
//! the command created and then never wrote (the command failed in between) is removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Failure;

/// An output file open for writing; its old content stays until [`OutputFile::write`].
#[derive(Debug)]
pub(crate) struct OutputFile {
    flag: &'static str,
    path: PathBuf,
    file: Option<File>,
    created: bool,
}

fn shown(path: &Path) -> String {
    super::sanitize::clean(&path.display().to_string()).into_owned()
}

impl OutputFile {
    /// Opens (or creates) `path` for writing; the error names the flag, the path and why.
    pub(crate) fn open(flag: &'static str, path: &Path) -> Result<Self, Failure> {
        let fail = |problem: String| Failure::invalid(format!("{flag} {}: {problem}", shown(path)));
        if path.as_os_str().is_empty() {
            return Err(Failure::invalid(format!("{flag}: the path is empty")));
        }
        if path.is_dir() {
            return Err(fail("is a folder, not a file".to_owned()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                return Err(fail(format!("the folder {} does not exist", shown(parent))));
            }
            if !parent.is_dir() {
                return Err(fail(format!("{} is not a folder", shown(parent))));
            }
        }
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                fail(match e.kind() {
                    std::io::ErrorKind::PermissionDenied => {
                        "cannot be written: permission denied".to_owned()
                    }
                    _ => format!("cannot be written: {e}"),
                })
            })?;
        Ok(OutputFile {
            flag,
            path: path.to_owned(),
            file: Some(file),
            created,
        })
    }

    /// Replaces the file's content with `bytes`.
    pub(crate) fn write(mut self, bytes: &[u8]) -> Result<(), Failure> {
        let mut file = self.file.take().expect("written once");
        file.set_len(0)
            .and_then(|()| file.write_all(bytes))
            .and_then(|()| file.flush())
            .map_err(|e| {
                Failure::invalid(format!(
                    "{} {}: cannot be written: {e}",
                    self.flag,
                    shown(&self.path)
                ))
            })
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        // Opened (and created) but never written: the command failed before its end.
        if self.file.take().is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
