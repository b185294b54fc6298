//! Controller core.
