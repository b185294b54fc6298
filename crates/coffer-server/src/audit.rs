//! The audit broker: every request and response goes, before it is
//! answered, to each enabled device as one JSON line, with string values
//! HMAC'd under the device's salt. If devices are enabled and none accepts an
//! entry, the request fails (fail closed).

mod chain;
mod file;
mod hashing;

use std::sync::{Arc, RwLock};

use coffer_core::logical::{Error, Result};
use serde_json::Value;

pub use chain::{VerifyReport, verify_file};
pub use file::{FileDevice, FileDeviceConfig};

#[derive(Default)]
pub struct AuditBroker {
    devices: RwLock<Vec<Arc<FileDevice>>>,
}

impl AuditBroker {
    pub fn add(&self, device: Arc<FileDevice>) {
        self.devices
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(device);
    }

    pub fn remove(&self, path: &str) -> bool {
        let mut devices = self.devices.write().unwrap_or_else(|e| e.into_inner());
        let before = devices.len();
        devices.retain(|d| d.path() != path);
        before != devices.len()
    }

    pub fn devices(&self) -> Vec<Arc<FileDevice>> {
        self.devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn device(&self, path: &str) -> Option<Arc<FileDevice>> {
        self.devices().into_iter().find(|d| d.path() == path)
    }

    pub fn is_enabled(&self) -> bool {
        !self
            .devices
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Writes one entry to every device; fails only when devices exist and none wrote it.
    pub fn log(&self, entry: &Value) -> Result<()> {
        let devices = self.devices();
        if devices.is_empty() {
            return Ok(());
        }
        let mut written = 0;
        for device in &devices {
            match device.log(entry) {
                Ok(()) => written += 1,
                Err(e) => {
                    tracing::error!(device = device.path(), error = %e, "audit device failed to write")
                }
            }
        }
        if written == 0 {
            metrics::counter!("coffer_audit_failures_total").increment(1);
            return Err(Error::internal("no audit device could record the request"));
        }
        Ok(())
    }
}
