//! Persisted state in the state directory: one JSON file per input and service, written
//! atomically (temporary file, fsync, rename, fsync of the directory), and a lock file per input
//! and service so two overlapping runs never pull one service at once.
//!
//! A state file that cannot be read, is corrupt or was written by a newer version is an error,
//! never a silent restart from zero: restarting would re-ship or skip data.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The version this program writes; a file with a higher one is refused.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt state file ({reason}); fix or remove it deliberately")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "{path}: written by a newer devo-aws (state version {found}, this one reads {STATE_VERSION})"
    )]
    Newer { path: PathBuf, found: u32 },
    #[error("{path}: held by another devo-aws run")]
    Locked { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What is remembered of one service between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceState {
    pub version: u32,
    /// When the last successful pull started (for `request_period_in_seconds`).
    pub last_pull: Option<DateTime<Utc>>,
    /// Cursor services: how far each region (or region and log group) was delivered.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cursors: BTreeMap<String, Cursor>,
}

/// How far one cursor has been delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cursor {
    /// Everything up to and including this instant was delivered.
    pub until: DateTime<Utc>,
    /// Ids of the events stamped exactly `until`: the next window starts there again and skips
    /// them, so an event late for its second is neither lost nor shipped twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids_at_until: Vec<String>,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

/// Held while a service runs; dropping it releases the lock.
#[derive(Debug)]
pub struct ServiceLock {
    _file: File,
}

impl StateStore {
    /// The store in `dir`, created on the first lock or save (a dry run creates nothing).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    fn create_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))
    }

    fn file(&self, key: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{key}.{ext}"))
    }

    /// Takes the lock of `key` without waiting.
    pub fn lock(&self, key: &str) -> Result<ServiceLock, StateError> {
        self.create_dir()?;
        let path = self.file(key, "lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(ServiceLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(StateError::Locked { path }),
            Err(fs::TryLockError::Error(source)) => Err(StateError::Io { path, source }),
        }
    }

    /// The saved state of `key`, or the default when there is none yet.
    pub fn load(&self, key: &str) -> Result<ServiceState, StateError> {
        let path = self.file(key, "json");
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ServiceState::default()),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let state: ServiceState =
            serde_json::from_slice(&text).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if state.version > STATE_VERSION {
            return Err(StateError::Newer {
                path,
                found: state.version,
            });
        }
        Ok(state)
    }

    /// Saves the state of `key` atomically: a crash leaves the old file or the new one.
    pub fn save(&self, key: &str, state: &ServiceState) -> Result<(), StateError> {
        self.create_dir()?;
        let path = self.file(key, "json");
        let tmp = self
            .dir
            .join(format!(".{key}.json.{}.tmp", std::process::id()));
        let state = ServiceState {
            version: STATE_VERSION,
            ..state.clone()
        };
        let mut bytes = serde_json::to_vec_pretty(&state).map_err(|e| StateError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|source| {
            let _ = fs::remove_file(&tmp);
            StateError::Io {
                path: path.clone(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert_eq!(store.load("1.svc").unwrap(), ServiceState::default());
        let now = Utc::now();
        store
            .save(
                "1.svc",
                &ServiceState {
                    version: 0,
                    last_pull: Some(now),
                    cursors: BTreeMap::from([(
                        "us-east-1".to_string(),
                        Cursor {
                            until: now,
                            ids_at_until: vec!["e1".into()],
                        },
                    )]),
                },
            )
            .unwrap();
        let back = store.load("1.svc").unwrap();
        assert_eq!(back.last_pull, Some(now));
        assert_eq!(back.cursors["us-east-1"].ids_at_until, ["e1"]);
        assert_eq!(back.version, STATE_VERSION);
    }

    #[test]
    fn corrupt_and_newer_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
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
        let store = StateStore::new(dir.path());
        let first = store.lock("k").unwrap();
        assert!(matches!(store.lock("k"), Err(StateError::Locked { .. })));
        drop(first);
        store.lock("k").unwrap();
    }
}
