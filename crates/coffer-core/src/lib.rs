//! IO-free core of coffer: the logical request/response model shared by every
//! engine, the declarative path tables and lenient field parsing, the ACL
//! policy language and its evaluation, and Go-style durations. Nothing here
//! does IO or needs tokio.
#![forbid(unsafe_code)]

pub mod duration;
pub mod fields;
pub mod logical;
pub mod paths;
pub mod policy;
