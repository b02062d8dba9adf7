//! The filesystem backend: one JSON file per input and service in the state directory, written
//! atomically (temporary file, fsync, rename, fsync of the directory). A lock file per input and
//! service (and shard) keeps two overlapping runs from pulling one service at once; a second,
//! short lock orders the read-modify-write of the file, so shards sharing a directory keep each
//! other's cursors.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{STATE_VERSION, ServiceState, StateError, parse_versioned};
use crate::shard::Shard;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        location: path.display().to_string(),
        source,
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// Held while a service runs; dropping it releases the lock.
#[derive(Debug)]
pub struct ServiceLock {
    _file: File,
}

impl FileStore {
    /// The store in `dir`, created on the first lock or save (a dry run creates nothing).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The directory, once a file could be written in it (or, before the first run, in the
    /// nearest directory above it that exists): what `check` reports.
    pub fn describe(&self) -> Result<String, StateError> {
        let (probe_dir, note) = if self.dir.exists() {
            (self.dir.clone(), "")
        } else {
            let parent = self
                .dir
                .ancestors()
                .skip(1)
                .find(|a| a.exists())
                .unwrap_or_else(|| Path::new("."))
                .to_path_buf();
            (parent, " (created by the first run)")
        };
        let probe = probe_dir.join(format!(".devo-aws-check-{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|_| fs::remove_file(&probe));
        written.map_err(io_error(&probe_dir))?;
        Ok(format!("directory {} writable{note}", self.dir.display()))
    }

    fn create_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))
    }

    fn file(&self, key: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{key}.{ext}"))
    }

    /// Takes the lock of `key` (of its `shard`, when given) without waiting.
    pub fn lock(&self, key: &str, shard: Option<Shard>) -> Result<ServiceLock, StateError> {
        self.create_dir()?;
        let name = match shard {
            Some(s) => format!("{key}.shard-{}", s.to_string().replace('/', "-of-")),
            None => key.to_string(),
        };
        let path = self.file(&name, "lock");
        let file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(ServiceLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(StateError::Locked {
                location: path.display().to_string(),
            }),
            Err(fs::TryLockError::Error(source)) => Err(StateError::Io {
                location: path.display().to_string(),
                source,
            }),
        }
    }

    /// The saved state of `key`, or the default when there is none yet.
    pub fn load(&self, key: &str) -> Result<ServiceState, StateError> {
        let path = self.file(key, "json");
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ServiceState::default()),
            Err(e) => return Err(io_error(&path)(e)),
        };
        parse_versioned(&path.display().to_string(), &text)
    }

    /// Changes the saved state of `key` with `change`: under the write lock, the file is read
    /// again, changed and saved, so what other shards saved meanwhile is kept.
    pub fn update(
        &self,
        key: &str,
        change: impl FnOnce(&mut ServiceState),
    ) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.file(key, "write-lock");
        let lock = open_lock_file(&path)?;
        lock.lock().map_err(io_error(&path))?;
        let mut state = self.load(key)?;
        change(&mut state);
        self.save(key, &state)
    }

    /// Saves the state of `key` atomically: a crash leaves the old file or the new one.
    fn save(&self, key: &str, state: &ServiceState) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.file(key, "json");
        let state = ServiceState {
            version: STATE_VERSION,
            ..state.clone()
        };
        let mut bytes = serde_json::to_vec_pretty(&state).map_err(|e| StateError::Io {
            location: path.display().to_string(),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        write_atomically(&path, &bytes).map_err(io_error(&path))
    }
}

/// Writes `bytes` to `path` so that a reader or a crash finds the old file or the new one,
/// never half of one: a hidden temporary file beside it, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn open_lock_file(path: &Path) -> Result<File, StateError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Cursor;
    use chrono::Utc;

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.prom");
        write_atomically(&path, b"one\n").unwrap();
        write_atomically(&path, b"two\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn cursor(id: &str) -> Cursor {
        Cursor {
            until: Utc::now(),
            ids_at_until: vec![id.into()],
            ingested_until: None,
        }
    }

    #[test]
    fn updates_keep_what_others_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        assert_eq!(store.load("1.svc").unwrap(), ServiceState::default());
        let now = Utc::now();
        let shard: Shard = "2/2".parse().unwrap();
        store
            .update("1.svc", |s| {
                s.cursors.insert("us-east-1".into(), cursor("e1"));
                s.set_pull(None, now);
            })
            .unwrap();
        store
            .update("1.svc", |s| {
                s.cursors.insert("eu-west-1".into(), cursor("e2"));
                s.set_pull(Some(shard), now);
            })
            .unwrap();
        let back = store.load("1.svc").unwrap();
        assert_eq!(back.last_pull_of(None), Some(now));
        assert_eq!(back.last_pull_of(Some(shard)), Some(now));
        assert_eq!(back.cursors["us-east-1"].ids_at_until, ["e1"]);
        assert_eq!(back.cursors["eu-west-1"].ids_at_until, ["e2"]);
        assert_eq!(back.version, STATE_VERSION);
    }

    #[test]
    fn corrupt_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        fs::write(dir.path().join("a.json"), "{\"version\":1,").unwrap();
        assert!(matches!(store.load("a"), Err(StateError::Corrupt { .. })));
        fs::write(dir.path().join("b.json"), "{\"version\":99}").unwrap();
        assert!(matches!(
            store.load("b"),
            Err(StateError::Newer { found: 99, .. })
        ));
    }

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let first = store.lock("k", None).unwrap();
        assert!(matches!(
            store.lock("k", None),
            Err(StateError::Locked { .. })
        ));
        let shards: Vec<Shard> = ["1/2", "2/2"].map(|s| s.parse().unwrap()).into();
        let one = store.lock("k", Some(shards[0])).unwrap();
        let _two = store.lock("k", Some(shards[1])).unwrap();
        assert!(store.lock("k", Some(shards[0])).is_err());
        drop((first, one));
        store.lock("k", None).unwrap();
        store.lock("k", Some(shards[0])).unwrap();
    }
}
