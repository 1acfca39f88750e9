//! Development secrets kept in `data_dir` (the internal credential, the gateway's token key,
//! the court's signing key): made on first start, readable by the owner only (mode 0600), so
//! that services started apart on one `data_dir` agree and nobody else on the machine reads
//! them.

use std::io::{Read, Write};
use std::path::Path;

/// A secret read from its file, or just made and written there.
#[derive(Debug)]
pub struct Secret {
    /// The file's text, trimmed.
    pub text: String,
    /// Whether this call made it (so the caller can say so in the log).
    pub created: bool,
}

/// Loads the secret in `path`, or creates the file with `make()`'s text (and its directory)
/// when there is none. The file is created exclusively with mode 0600 from the start: there
/// is no moment when another user could read it, and of two processes starting at once one
/// writes and the other reads. An empty file (another process between creating and writing
/// it, or a crash there) is an error naming the file, never a secret.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> std::io::Result<Secret> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let text = make().trim().to_owned();
            writeln!(file, "{text}")?;
            file.sync_all()?;
            Ok(Secret {
                text,
                created: true,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut text = String::new();
            std::fs::File::open(path)?.read_to_string(&mut text)?;
            let text = text.trim().to_owned();
            if text.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} holds no secret; remove it to make a new one",
                        path.display()
                    ),
                ));
            }
            Ok(Secret {
                text,
                created: false,
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_then_read() {
        let dir = std::env::temp_dir().join(format!(
            "sieve-secret-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let path = dir.join("nested").join("dev.secret");
        let first = load_or_create(&path, || "s3cret\n".into()).expect("made");
        assert_eq!((first.text.as_str(), first.created), ("s3cret", true));
        let second = load_or_create(&path, || unreachable!("not made twice")).expect("read");
        assert_eq!((second.text.as_str(), second.created), ("s3cret", false));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "\n").expect("emptied");
        let e = load_or_create(&path, || "new".into()).expect_err("empty file");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
