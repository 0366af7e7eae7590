//! Replacing a file all at once: [`write_atomically`].
//!
//! `gradc` promises never to leave a half-written file behind (LANGUAGE.md §10). Writing
//! straight into `params.safetensors` breaks that promise whenever the write stops midway: a
//! crash, a kill, a full disk, an I/O error. And it destroys the previous, good file first.
//! So every output (`save`, checkpoints) is written to a temporary file beside the target,
//! flushed to the disk, and only then renamed over the target. A rename within one directory
//! is atomic on POSIX file systems: a reader, or the machine after a power cut, sees either
//! the old file or the complete new one, never a mix.

use std::fs::File;
use std::io;
use std::path::Path;

/// Writes a file by calling `write` on a fresh temporary file in the same directory as
/// `path`, then putting it in place of `path` atomically.
///
/// Steps: create `.NAME.XXXXXX.tmp` (random `XXXXXX`, so concurrent writers never collide)
/// beside `path`; call `write`; fsync the file; rename it over `path`; fsync the directory so
/// that the rename itself survives a power cut.
///
/// On any error before the rename, the temporary file is removed and `path` (if it existed)
/// is untouched. The one exception is an error from the final directory fsync: the new file
/// is then already in place but may not survive a power cut, and the error is returned so
/// the caller does not claim success.
///
/// The new file gets the permissions a plain `File::create` would give (0o666 less the
/// umask), or the old file's when it replaces one, not the 0o600 of a temporary file.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` does not name a file", path.display()),
        )
    })?;
    // `Path::new("x").parent()` is `Some("")`: the working directory.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };

    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Passed to open(2), so the umask applies, as it would for `File::create`.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // `NamedTempFile` deletes the file when dropped, so every `?` below cleans up.
    let mut tmp = builder.tempfile_in(dir)?;

    write(tmp.as_file_mut())?;
    // Data and metadata on disk before the rename: otherwise a power cut right after the
    // rename could leave `path` pointing at an empty or partial file.
    tmp.as_file().sync_all()?;
    if let Ok(old) = std::fs::metadata(path) {
        if old.is_file() {
            tmp.as_file().set_permissions(old.permissions())?;
        }
    }
    // On failure `PersistError` hands the temporary file back; dropping it removes it.
    tmp.persist(path).map_err(|e| e.error)?;

    sync_dir(dir)
}

/// Makes a rename in `dir` durable. Some file systems cannot fsync a directory and say so
/// with EINVAL or ENOTSUP; there is nothing more to do on those, so that is not an error.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(e) if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => {
            Ok(())
        }
        other => other,
    }
}

/// Windows cannot open a directory as a `File`; its rename (`MoveFileEx` with
/// `MOVEFILE_REPLACE_EXISTING`) is the best available there.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        write_atomically(&path, |f| f.write_all(&data)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(entries(dir.path()), ["out.bin"]);
    }

    #[test]
    fn replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "a much longer old content").unwrap();
        write_atomically(&path, |f| f.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(dir.path()), ["out.txt"]);
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.safetensors");
        std::fs::write(&path, "old, complete").unwrap();
        let err = write_atomically(&path, |f| {
            f.write_all(b"half of the new")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old, complete");
        assert_eq!(entries(dir.path()), ["params.safetensors"]);
    }

    #[test]
    fn a_failing_writer_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.bin");
        write_atomically(&path, |_| Err(io::Error::other("no"))).unwrap_err();
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/out.bin");
        let err = write_atomically(&path, |f| f.write_all(b"x")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_path_without_a_file_name_is_an_error() {
        let err = write_atomically(Path::new("/"), |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_directory_in_the_way_is_an_error_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "x").unwrap();
        write_atomically(&path, |f| f.write_all(b"x")).unwrap_err();
        assert_eq!(entries(dir.path()), ["sub"]);
        assert_eq!(entries(&path), ["keep"]);
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_permissions_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, |f| f.write_all(b"new")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}
