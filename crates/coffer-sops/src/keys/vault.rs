//! HashiCorp Vault / OpenBao transit master keys (`hc_vault`): the data key
//! is sent base64-encoded to `PUT /v1/<engine>/encrypt/<key>` and the
//! returned `vault:v1:…` ciphertext stored as `enc`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::VaultKey;

/// Parses `https://host:8200/v1/<engine…>/keys/<name>`.
pub fn parse_uri(uri: &str) -> Result<VaultKey, String> {
    let u = crate::http::parse_url(uri)?;
    let path = u.path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let bad = || {
        format!(
            "invalid Vault transit URI {uri:?}: expected <address>/v1/<engine path>/keys/<key name>"
        )
    };
    if segs.len() < 4 || !segs[0].starts_with('v') || segs[0][1..].parse::<u32>().is_err() {
        return Err(bad());
    }
    let keys_at = segs.len() - 2;
    if segs[keys_at] != "keys" || keys_at < 2 {
        return Err(bad());
    }
    let scheme = if u.tls { "https" } else { "http" };
    Ok(VaultKey {
        vault_address: format!("{scheme}://{}:{}", u.host, u.port),
        engine_path: segs[1..keys_at].join("/"),
        key_name: segs[keys_at + 1].to_owned(),
        created_at: String::new(),
        enc: String::new(),
    })
}

fn token() -> Result<Zeroizing<String>, String> {
    if let Ok(t) = std::env::var("VAULT_TOKEN")
        && !t.is_empty()
    {
        return Ok(Zeroizing::new(t));
    }
    let home = std::env::var_os("HOME").ok_or("no VAULT_TOKEN and no HOME for ~/.vault-token")?;
    let t = std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token"))
        .map_err(|_| "no Vault token: set VAULT_TOKEN or write ~/.vault-token".to_owned())?;
    Ok(Zeroizing::new(t.trim().to_owned()))
}

/// `SOPS_HC_VAULT_ALLOWLIST`: `all` (default), `none`, or URL prefixes.
fn allowed(address: &str) -> Result<(), String> {
    let list = std::env::var("SOPS_HC_VAULT_ALLOWLIST").unwrap_or_else(|_| "all".into());
    match list.trim() {
        "" | "all" => Ok(()),
        "none" => Err(format!(
            "Vault address {address} refused: SOPS_HC_VAULT_ALLOWLIST=none"
        )),
        l if l.split(',').any(|p| address.starts_with(p.trim())) => Ok(()),
        _ => Err(format!(
            "Vault address {address} is not in SOPS_HC_VAULT_ALLOWLIST"
        )),
    }
}

fn call(k: &VaultKey, op: &str, body: &serde_json::Value) -> Result<serde_json::Value, String> {
    allowed(&k.vault_address)?;
    let tok = token()?;
    let url = format!(
        "{}/v1/{}/{op}/{}",
        k.vault_address.trim_end_matches('/'),
        k.engine_path,
        k.key_name
    );
    let ns = std::env::var("VAULT_NAMESPACE").unwrap_or_default();
    let mut headers = vec![
        ("X-Vault-Token", tok.as_str()),
        ("Content-Type", "application/json"),
        ("X-Vault-Request", "true"),
    ];
    if !ns.is_empty() {
        headers.push(("X-Vault-Namespace", ns.as_str()));
    }
    let body = Zeroizing::new(serde_json::to_vec(body).map_err(|e| e.to_string())?);
    let (status, resp) = crate::http::request("PUT", &url, &headers, &body)?;
    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap_or(serde_json::Value::Null);
    if !(200..300).contains(&status) {
        let errs = v["errors"].as_array().map(|a| {
            a.iter()
                .filter_map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        });
        return Err(format!(
            "Vault {op} at {url} returned HTTP {status}{}",
            errs.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    Ok(v)
}

/// Encrypts `secret` with the transit key; returns the ciphertext string.
pub fn encrypt(k: &VaultKey, secret: &[u8]) -> Result<String, String> {
    let pt = Zeroizing::new(B64.encode(secret));
    let v = call(
        k,
        "encrypt",
        &serde_json::json!({ "plaintext": pt.as_str() }),
    )?;
    v["data"]["ciphertext"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "Vault encrypt response has no data.ciphertext".into())
}

/// Decrypts the `enc` ciphertext with the transit key.
pub fn decrypt(k: &VaultKey) -> Result<Zeroizing<Vec<u8>>, String> {
    let v = call(k, "decrypt", &serde_json::json!({ "ciphertext": k.enc }))?;
    let pt = v["data"]["plaintext"]
        .as_str()
        .ok_or("Vault decrypt response has no data.plaintext")?;
    B64.decode(pt)
        .map(Zeroizing::new)
        .map_err(|_| "Vault returned invalid base64 plaintext".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let k = parse_uri("https://vault.example.org:8200/v1/transit/keys/dev").unwrap();
        assert_eq!(k.vault_address, "https://vault.example.org:8200");
        assert_eq!(
            (k.engine_path.as_str(), k.key_name.as_str()),
            ("transit", "dev")
        );
        let k = parse_uri("http://127.0.0.1:8200/v1/sops/transit/keys/k1").unwrap();
        assert_eq!(k.engine_path, "sops/transit");
        assert!(parse_uri("https://v:8200/prefix/v1/transit/keys/x").is_err());
        assert!(parse_uri("https://v:8200/v1/transit/x").is_err());
    }
}
