//! Auth methods. Registration is the one place that knows every method:
//! adding one means a module here and one line in [`auth_backend`].

pub mod approle;
pub mod kubernetes;
pub mod token_params;
pub mod userpass;

use std::sync::Arc;

use crate::framework::Backend;
use crate::mounts::MountEntry;

/// Auth method types that `sys/auth` accepts (besides the built-in `token`).
pub const AUTH_TYPES: &[&str] = &["userpass", "approle", "kubernetes"];

/// Builds the backend for an auth mount, or `None` for an unknown type.
pub fn auth_backend(entry: &MountEntry) -> Option<Arc<dyn Backend>> {
    match entry.kind.as_str() {
        "userpass" => Some(Arc::new(userpass::Userpass)),
        "approle" => Some(Arc::new(approle::AppRole::default())),
        "kubernetes" => Some(Arc::new(kubernetes::Kubernetes::default())),
        _ => None,
    }
}
