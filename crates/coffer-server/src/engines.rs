//! Secrets engines. Registration is the one place that knows every engine:
//! adding an engine means a module here and one line in [`secret_backend`].

pub mod cubbyhole;
pub mod kv1;
pub mod kv2;
pub mod transit;

use std::sync::Arc;

use crate::framework::Backend;
use crate::mounts::MountEntry;

/// Engine types that `sys/mounts` accepts.
pub const SECRET_TYPES: &[&str] = &["kv", "kv-v2", "cubbyhole", "transit"];

/// Builds the backend for a secrets mount, or `None` for an unknown type.
pub fn secret_backend(entry: &MountEntry) -> Option<Arc<dyn Backend>> {
    match (entry.kind.as_str(), entry.kv_version()) {
        ("kv", Some("2")) => Some(Arc::new(kv2::KvV2::new())),
        ("kv", _) => Some(Arc::new(kv1::KvV1)),
        ("cubbyhole", _) => Some(Arc::new(cubbyhole::Cubbyhole)),
        ("transit", _) => Some(Arc::new(transit::Transit::default())),
        _ => None,
    }
}
