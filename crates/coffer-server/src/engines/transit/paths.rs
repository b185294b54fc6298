//! The transit path table: every route with its operations and known
//! fields (for routing, 405s and unknown-parameter warnings).

use coffer_core::logical::Operation;
use coffer_core::paths::{PathSpec, PathTable};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    KeysList,
    Key,
    KeyConfig,
    KeyRotate,
    KeyTrim,
    Encrypt,
    Decrypt,
    Rewrap,
    Datakey,
    Hmac,
    Sign,
    Verify,
    Random,
    Hash,
    Export,
    Backup,
    Restore,
    Import,
    ImportVersion,
    ByokExport,
    WrappingKey,
    SoftDelete,
    SoftDeleteRestore,
    /// Anything else below the mount: OpenBao's "unsupported path".
    Unsupported,
    KeysConfig,
    CacheConfig,
}

use Operation::{Delete, List, Read, Update};

const ENC_FIELDS: &[&str] = &[
    "plaintext",
    "context",
    "key_version",
    "associated_data",
    "batch_input",
    "type",
    "convergent_encryption",
    "partial_failure_response_code",
    "nonce",
];
const DEC_FIELDS: &[&str] = &[
    "ciphertext",
    "context",
    "associated_data",
    "batch_input",
    "partial_failure_response_code",
    "nonce",
    "oaep_label",
];
const SIGN_FIELDS: &[&str] = &[
    "input",
    "context",
    "key_version",
    "hash_algorithm",
    "algorithm",
    "prehashed",
    "signature_algorithm",
    "marshaling_algorithm",
    "salt_length",
    "batch_input",
    "signature",
    "hmac",
];

macro_rules! spec {
    ($pattern:expr, $route:expr, $ops:expr, $fields:expr, $exists:expr) => {
        PathSpec {
            pattern: $pattern,
            route: $route,
            operations: $ops,
            fields: $fields,
            existence_check: $exists,
            help: "",
        }
    };
}

pub static PATHS: PathTable<Route> = PathTable(&[
    spec!("keys", Route::KeysList, &[List], &[], false),
    spec!(
        "keys/{name}/config",
        Route::KeyConfig,
        &[Update],
        &[
            "min_decryption_version",
            "min_encryption_version",
            "deletion_allowed",
            "exportable",
            "allow_plaintext_backup",
            "auto_rotate_period",
        ],
        false
    ),
    spec!(
        "keys/{name}/rotate",
        Route::KeyRotate,
        &[Update],
        &[],
        false
    ),
    spec!(
        "keys/{name}/import",
        Route::Import,
        &[Update],
        &[
            "type",
            "hash_function",
            "ciphertext",
            "public_key",
            "allow_rotation",
            "derived",
            "exportable",
            "allow_plaintext_backup",
            "auto_rotate_period",
            "context",
        ],
        false
    ),
    spec!(
        "keys/{name}/import_version",
        Route::ImportVersion,
        &[Update],
        &["ciphertext", "hash_function", "public_key", "version"],
        false
    ),
    spec!("wrapping_key", Route::WrappingKey, &[Read], &[], false),
    spec!(
        "byok-export/{destination}/{source}/{version}",
        Route::ByokExport,
        &[Read],
        &["hash"],
        false
    ),
    spec!(
        "byok-export/{destination}/{source}",
        Route::ByokExport,
        &[Read],
        &["hash"],
        false
    ),
    spec!(
        "keys/{name}/soft-delete",
        Route::SoftDelete,
        &[Delete],
        &[],
        false
    ),
    spec!(
        "keys/{name}/soft-delete-restore",
        Route::SoftDeleteRestore,
        &[Update],
        &[],
        false
    ),
    spec!(
        "config/keys",
        Route::KeysConfig,
        &[Read, Update],
        &["disable_upsert"],
        false
    ),
    spec!(
        "cache-config",
        Route::CacheConfig,
        &[Read, Update],
        &["size"],
        false
    ),
    spec!(
        "keys/{name}/trim",
        Route::KeyTrim,
        &[Update],
        &["min_available_version"],
        false
    ),
    spec!(
        "keys/{name}",
        Route::Key,
        &[Read, Update, Delete],
        &[
            "type",
            "derived",
            "convergent_encryption",
            "exportable",
            "allow_plaintext_backup",
            "auto_rotate_period",
            "key_size",
            "context",
        ],
        // OpenBao has no existence check here: every write is an `update`.
        false
    ),
    spec!(
        "encrypt/{name}",
        Route::Encrypt,
        &[Update],
        ENC_FIELDS,
        true
    ),
    spec!(
        "decrypt/{name}",
        Route::Decrypt,
        &[Update],
        DEC_FIELDS,
        false
    ),
    spec!("rewrap/{name}", Route::Rewrap, &[Update], ENC_FIELDS, false),
    spec!(
        "datakey/{plaintext}/{name}",
        Route::Datakey,
        &[Update],
        &["context", "bits", "nonce", "key_version", "associated_data"],
        false
    ),
    spec!(
        "hmac/{name}/{urlalgorithm}",
        Route::Hmac,
        &[Update],
        SIGN_FIELDS,
        false
    ),
    spec!("hmac/{name}", Route::Hmac, &[Update], SIGN_FIELDS, false),
    spec!(
        "sign/{name}/{urlalgorithm}",
        Route::Sign,
        &[Update],
        SIGN_FIELDS,
        false
    ),
    spec!("sign/{name}", Route::Sign, &[Update], SIGN_FIELDS, false),
    spec!(
        "verify/{name}/{urlalgorithm}",
        Route::Verify,
        &[Update],
        SIGN_FIELDS,
        false
    ),
    spec!(
        "verify/{name}",
        Route::Verify,
        &[Update],
        SIGN_FIELDS,
        false
    ),
    spec!(
        "random/{source}/{urlbytes}",
        Route::Random,
        &[Update],
        &["bytes", "format", "source"],
        false
    ),
    spec!(
        "random/{source}",
        Route::Random,
        &[Update],
        &["bytes", "format", "source"],
        false
    ),
    spec!(
        "random",
        Route::Random,
        &[Update],
        &["bytes", "format", "source"],
        false
    ),
    spec!(
        "hash/{urlalgorithm}",
        Route::Hash,
        &[Update],
        &["input", "format", "algorithm"],
        false
    ),
    spec!(
        "hash",
        Route::Hash,
        &[Update],
        &["input", "format", "algorithm"],
        false
    ),
    spec!(
        "export/{type}/{name}/{version}",
        Route::Export,
        &[Read],
        &["format"],
        false
    ),
    spec!(
        "export/{type}/{name}",
        Route::Export,
        &[Read],
        &["format"],
        false
    ),
    spec!("backup/{name}", Route::Backup, &[Read], &[], false),
    spec!(
        "restore/{name}",
        Route::Restore,
        &[Update],
        &["backup", "force"],
        false
    ),
    spec!(
        "restore",
        Route::Restore,
        &[Update],
        &["backup", "name", "force"],
        false
    ),
    spec!(
        "{path*}",
        Route::Unsupported,
        &[Read, Update, Delete, List],
        &[],
        false
    ),
]);
