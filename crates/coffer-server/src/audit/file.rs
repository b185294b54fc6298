//! The file audit device: one JSON line per entry, appended to a file (or
//! stdout), each line chained to the previous one by its SHA-256.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::sync::Mutex;

use serde_json::{Value, json};

use super::chain::{GENESIS, line_hash};
use super::hashing::{hash_entry, hmac_value};

/// Options of a `file` device, as given in config or `sys/audit`.
#[derive(Debug, Clone, Default)]
pub struct FileDeviceConfig {
    /// Mount path with trailing `/` (e.g. `file/`).
    pub path: String,
    pub file_path: String,
    pub log_raw: bool,
    pub hmac_accessor: bool,
    pub prefix: String,
    pub mode: Option<u32>,
    pub description: String,
}

enum Sink {
    File(File),
    Stdout,
}

struct ChainState {
    sink: Sink,
    seq: u64,
    prev: String,
}

pub struct FileDevice {
    config: FileDeviceConfig,
    salt: Vec<u8>,
    state: Mutex<ChainState>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("cannot open audit file {path:?}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write audit file: {0}")]
    Write(#[from] std::io::Error),
}

impl FileDevice {
    /// Opens (or creates, mode 0600 by default) the file and resumes its chain.
    pub fn open(config: FileDeviceConfig, salt: Vec<u8>) -> Result<Self, DeviceError> {
        let (sink, seq, prev) = if config.file_path == "stdout" {
            (Sink::Stdout, 0, GENESIS.to_owned())
        } else {
            let (seq, prev) = resume(&config.file_path);
            let mut opts = OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(config.mode.unwrap_or(0o600));
            }
            let file = opts
                .open(&config.file_path)
                .map_err(|source| DeviceError::Open {
                    path: config.file_path.clone(),
                    source,
                })?;
            (Sink::File(file), seq, prev)
        };
        Ok(FileDevice {
            config,
            salt,
            state: Mutex::new(ChainState { sink, seq, prev }),
        })
    }

    pub fn path(&self) -> &str {
        &self.config.path
    }

    pub fn config(&self) -> &FileDeviceConfig {
        &self.config
    }

    /// `hmac-sha256:<hex>` of `input` as this device would log it.
    pub fn hash(&self, input: &str) -> String {
        hmac_value(&self.salt, input)
    }

    /// HMACs, chains and appends one entry.
    pub fn log(&self, entry: &Value) -> Result<(), DeviceError> {
        let mut entry = entry.clone();
        if !self.config.log_raw {
            hash_entry(&self.salt, &mut entry, self.config.hmac_accessor);
        }
        // The write is a small append to the page cache (no fsync), done under the lock
        // so the chain order equals the file order.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.seq += 1;
        if let Value::Object(map) = &mut entry {
            map.insert("seq".into(), json!(state.seq));
            map.insert("prev_hash".into(), json!(state.prev));
        }
        let mut line = self.config.prefix.clone().into_bytes();
        serde_json::to_writer(&mut line, &entry).map_err(std::io::Error::other)?;
        let hash = line_hash(&line);
        line.push(b'\n');
        let written = match &mut state.sink {
            Sink::File(f) => f.write_all(&line),
            Sink::Stdout => std::io::stdout().lock().write_all(&line),
        };
        if let Err(e) = written {
            state.seq -= 1;
            return Err(e.into());
        }
        state.prev = hash;
        Ok(())
    }
}

/// The sequence number and hash of the last line of an existing log.
fn resume(path: &str) -> (u64, String) {
    // Only regular files hold a chain to resume (not /dev/* or FIFOs).
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return (0, GENESIS.to_owned());
    }
    let Ok(file) = File::open(path) else {
        return (0, GENESIS.to_owned());
    };
    let mut last: Option<String> = None;
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if !line.trim().is_empty() {
            last = Some(line);
        }
    }
    match last {
        None => (0, GENESIS.to_owned()),
        Some(line) => {
            let seq = line
                .find('{')
                .and_then(|i| serde_json::from_str::<Value>(&line[i..]).ok())
                .and_then(|v| v.get("seq").and_then(Value::as_u64))
                .unwrap_or(0);
            (seq, line_hash(line.as_bytes()))
        }
    }
}
