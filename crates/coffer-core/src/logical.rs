//! The logical request model: operations, requests, responses and errors as
//! every engine and auth method sees them, independent of HTTP. The HTTP edge
//! turns a [`Response`] or an [`Error`] into Vault's wire shapes in one place.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object: request bodies and response data.
pub type Object = Map<String, Value>;

/// What a request does, in Vault's vocabulary (the ACL distinguishes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Read,
    Create,
    Update,
    Patch,
    Delete,
    List,
}

impl Operation {
    /// The lowercase name used in audit entries and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
        }
    }

    /// Create and update are one kind of write for routing purposes.
    pub fn is_write(self) -> bool {
        matches!(self, Operation::Create | Operation::Update)
    }
}

/// A request as an engine sees it. `path` is relative to the mount.
#[derive(Clone)]
pub struct Request {
    pub operation: Operation,
    /// Path below the mount point, without a leading `/`.
    pub path: String,
    /// Body fields merged with query parameters (body wins).
    pub data: Object,
    /// The mount point the request was routed to, with trailing `/` (e.g. `secret/`).
    pub mount_point: String,
    /// The body was the literal JSON `null` (`bao write -f`).
    pub null_body: bool,
}

impl Request {
    pub fn new(operation: Operation, path: impl Into<String>) -> Self {
        Request {
            operation,
            path: path.into(),
            data: Object::new(),
            mount_point: String::new(),
            null_body: false,
        }
    }

    pub fn with_data(mut self, data: Object) -> Self {
        self.data = data;
        self
    }
}

/// Authentication result attached to a login or token-create response. The
/// token store fills `client_token` and `accessor` after the engine returns.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Auth {
    pub policies: Vec<String>,
    pub metadata: indexmap::IndexMap<String, String>,
    pub display_name: String,
    /// Token TTL in seconds (0 = the mount/system default).
    pub ttl: u64,
    pub max_ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    pub num_uses: u64,
    pub renewable: bool,
    pub no_default_policy: bool,
    /// Source CIDRs the token may be used from (empty = anywhere).
    pub bound_cidrs: Vec<String>,
    /// Identifies the login for renewal (e.g. the userpass user name).
    pub internal: Object,
    /// The new token is a child of the calling token (token-store creates);
    /// logins issue orphans.
    pub child_of_caller: bool,
    /// A caller-chosen token id (root only).
    pub id: Option<String>,
}

/// What an engine answers.
#[derive(Clone, Default)]
pub struct Response {
    pub data: Option<Object>,
    pub warnings: Vec<String>,
    pub auth: Option<Auth>,
    /// An auth block describing an existing token (renewals), rendered as is.
    pub auth_rendered: Option<Object>,
    /// Lease duration shown in the envelope (KV v1 echoes a `ttl` key here).
    pub lease_duration: u64,
    /// Non-default HTTP status (e.g. KV v2's 404 with a full envelope).
    pub status: Option<u16>,
    /// Duplicate `data` at the top level too (Vault's legacy sys shapes).
    pub legacy: bool,
    /// Answer this JSON as it is, without the envelope (sys/init, seal-status, health).
    pub raw: Option<Value>,
    /// A wrapped response: only `wrap_info` is shown (and `request_id` is empty).
    pub wrap_info: Option<Object>,
}

impl Response {
    /// An empty write: rendered as 204 unless it carries warnings.
    pub fn empty() -> Self {
        Response::default()
    }

    pub fn data(data: Object) -> Self {
        Response {
            data: Some(data),
            ..Response::default()
        }
    }

    /// `{"keys":[...]}`, the shape of every list answer.
    pub fn list(keys: Vec<String>) -> Self {
        let mut data = Object::new();
        data.insert("keys".into(), keys.into());
        Response::data(data)
    }

    pub fn legacy(mut self) -> Self {
        self.legacy = true;
        self
    }

    pub fn raw(value: Value) -> Self {
        Response {
            raw: Some(value),
            ..Response::default()
        }
    }

    /// Appends warnings (e.g. the path table's unknown-field warnings).
    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings.extend(warnings);
        self
    }

    pub fn with_warning(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
}

/// Field names only: values may be secrets and never reach Debug output.
struct Keys<'a>(&'a Object);

impl std::fmt::Debug for Keys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("mount_point", &self.mount_point)
            .field("data_keys", &Keys(&self.data))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("policies", &self.policies)
            .field("display_name", &self.display_name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("data_keys", &self.data.as_ref().map(Keys))
            .field("warnings", &self.warnings.len())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_output_has_no_values() {
        let mut req = Request::new(Operation::Update, "secret/data/x");
        req.data.insert("password".into(), "hunter2-canary".into());
        let resp = Response::data(req.data.clone());
        let shown = format!("{req:?} {resp:?}");
        assert!(
            shown.contains("password") && !shown.contains("hunter2-canary"),
            "{shown}"
        );
    }
}

/// Every way a request can fail, grouped by who is at fault. Each maps to
/// exactly one HTTP status in [`Error::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 400 with the message as the only error.
    #[error("{0}")]
    BadRequest(String),
    /// 403 `permission denied`: no token, bad token (before routing).
    #[error("permission denied")]
    PermissionDenied,
    /// 403 for an ACL refusal inside a routed request (Vault's multierror text).
    #[error("1 error occurred:\n\t* permission denied\n\n")]
    AclDenied,
    /// 403 with a specific message (e.g. `bad token`).
    #[error("{0}")]
    Forbidden(String),
    /// 404 `{"errors":[]}`.
    #[error("not found")]
    NotFound,
    /// 404 for an unknown route.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    /// 405 unsupported operation on an existing path.
    #[error("1 error occurred:\n\t* unsupported operation\n\n")]
    UnsupportedOperation,
    /// 413 request body too large.
    #[error("http: request body too large")]
    TooLarge,
    /// 415 PATCH without the merge-patch content type.
    #[error("PATCH requires Content-Type of application/merge-patch+json, provided {0}")]
    UnsupportedMediaType(String),
    /// 429/503 style service states.
    #[error("Vault is sealed")]
    Sealed,
    /// 500: something on our side failed. The message must not contain secrets.
    #[error("{0}")]
    Internal(String),
    /// Any other status with a message (e.g. 501 on uninitialised health).
    #[error("{1}")]
    Status(u16, String),
}

impl Error {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Error::BadRequest(msg.into())
    }

    pub fn internal(msg: impl std::fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::PermissionDenied | Error::AclDenied | Error::Forbidden(_) => 403,
            Error::NotFound | Error::NoRoute(_) => 404,
            Error::UnsupportedOperation => 405,
            Error::TooLarge => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Sealed => 503,
            Error::Internal(_) => 500,
            Error::Status(code, _) => *code,
        }
    }

    /// The `errors` array of the body.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::NotFound => Vec::new(),
            other => vec![other.to_string()],
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
