//! The sealed-secrets controller's IO-free core: key Secret handling and renewal
//! ([`keys`]), the reconcile decision ([`reconcile`]) and the HTTP handlers ([`http`]).
//! Nothing here talks to the Kubernetes API; a kube-runtime wrapper feeds objects in and applies
//! the returned actions.

#[cfg(feature = "kube-controller")]
pub mod cli;
#[cfg(feature = "kube-controller")]
pub mod coffer_source;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod reconcile;
#[cfg(feature = "kube-controller")]
pub mod runtime;
