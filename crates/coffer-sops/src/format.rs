//! The file formats (stores): YAML, JSON, dotenv, INI and binary.

pub mod yaml_emit;
pub mod yaml_load;
