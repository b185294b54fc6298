//! Golden files for the metadata layout coffer writes (YAML, JSON, dotenv,
//! INI): alphabetical keys, key groups with `age` and `hc_vault` always
//! present, flattened keys for the flat formats. Regenerate with
//! `COFFER_BLESS=1 cargo test -p coffer-sops --test golden` and review the diff.

use std::path::PathBuf;

use coffer_sops::format::{self, Format, Style};
use coffer_sops::keys::{MasterKey, VaultKey};
use coffer_sops::metadata::{KeyGroup, Metadata};
use coffer_sops::rules::RuleFields;
use coffer_sops::tree::{Item, Value};

const AGE_ENC: &str = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBVdHdsUkN4bFUrUVdZTlpk\n-----END AGE ENCRYPTED FILE-----\n";
const MAC: &str = "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]";

fn meta(groups: Vec<KeyGroup>, threshold: Option<usize>) -> Metadata {
    let mut m = Metadata::new(
        groups,
        RuleFields {
            encrypted_regex: Some("^(data|stringData)$".into()),
            ..Default::default()
        },
        true,
        threshold,
    );
    m.lastmodified = "2026-11-22T08:28:14Z".into();
    m.mac = Some(MAC.into());
    m
}

fn age() -> MasterKey {
    MasterKey::Age {
        recipient: "age1gkgx0wwayggapf63v9j43czs03lg75d3dfpr2xd0putqacuylytqmlanjt".into(),
        enc: AGE_ENC.into(),
    }
}

fn vault() -> MasterKey {
    MasterKey::Vault(VaultKey {
        vault_address: "http://127.0.0.1:8200".into(),
        engine_path: "team/transit".into(),
        key_name: "app".into(),
        created_at: "2026-11-22T08:28:14Z".into(),
        enc: "vault:v1:c2VjcmV0".into(),
    })
}

fn check(name: &str, got: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("COFFER_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want =
        std::fs::read(&path).unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(&want),
        "{name}"
    );
}

#[test]
fn metadata_layouts() {
    let one = meta(
        vec![KeyGroup {
            keys: vec![age(), vault()],
        }],
        None,
    );
    let groups = meta(
        vec![
            KeyGroup { keys: vec![age()] },
            KeyGroup {
                keys: vec![vault()],
            },
        ],
        Some(2),
    );
    let data = vec![vec![
        Item::Comment("ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:comment]".into()),
        Item::Pair("data".into(), Value::Map(vec![Item::Pair("k".into(), Value::Str("ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]".into()))])),
    ]];
    for (name, m, f) in [
        ("one-group.enc.yaml", &one, Format::Yaml),
        ("key-groups.enc.yaml", &groups, Format::Yaml),
        ("one-group.enc.json", &one, Format::Json),
        ("key-groups.enc.env", &groups, Format::Dotenv),
        ("one-group.enc.ini", &one, Format::Ini),
    ] {
        let mut branches = data.clone();
        if f == Format::Ini {
            branches = vec![vec![Item::Pair(
                "data".into(),
                Value::Map(vec![Item::Pair("k".into(), Value::Str("v".into()))]),
            )]];
        }
        if f == Format::Dotenv {
            branches = vec![vec![Item::Pair("k".into(), Value::Str("v".into()))]];
        }
        let out = format::emit_encrypted(&branches, &m.to_value(), f, Style::default()).unwrap();
        check(name, &out);
        // and it reads back to the same metadata
        let (_, back) = format::load_encrypted(&out, f).unwrap();
        assert_eq!(&Metadata::from_value(&back).unwrap(), m, "{name}");
    }
}
