use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::*;

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

fn encode(alg: &str, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k"}).to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{p}");
    let sig = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

struct Rsa(RsaKeyPair);

impl Rsa {
    fn new() -> Self {
        Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }
    fn pem(&self) -> String {
        pem(self.0.public_key().as_der().unwrap().as_ref())
    }
    fn token(&self, claims: &Value) -> String {
        encode("RS256", claims, |m| {
            let mut sig = vec![0; self.0.public_modulus_len()];
            self.0
                .sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    m,
                    &mut sig,
                )
                .unwrap();
            sig
        })
    }
}

fn projected(now: i64) -> Value {
    json!({
        "aud": ["https://kubernetes.default.svc"],
        "exp": now + 3600, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {
            "namespace": "default",
            "pod": {"name": "p", "uid": "pod-uid"},
            "serviceaccount": {"name": "app", "uid": "sa-uid"}
        },
        "sub": "system:serviceaccount:default:app"
    })
}

fn now() -> i64 {
    1_800_000_000
}

fn expected<'a>(issuer: &'a str, audience: &'a str) -> Expected<'a> {
    Expected {
        issuer,
        audience,
        now: now(),
    }
}

#[test]
fn rs256_verifies_and_wrong_key_fails() {
    let key = Rsa::new();
    let other = Rsa::new();
    let token = key.token(&projected(now()));
    let jws = Jws::parse(&token).unwrap();
    let good = PublicKey::from_pem(&key.pem()).unwrap();
    let bad = PublicKey::from_pem(&other.pem()).unwrap();
    assert!(jws.verify(&[bad.clone(), good.clone()]).is_ok());
    // Whitespace (a trailing newline from a token file) is ignored.
    let padded = format!(" {token}\n");
    assert!(Jws::parse(&padded).unwrap().verify(&[good]).is_ok());
    assert_eq!(jws.verify(&[bad]), Err(JwtError::Signature));
    // A tampered payload fails too.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged =
        URL_SAFE_NO_PAD.encode(json!({"kubernetes.io/serviceaccount/namespace": "x"}).to_string());
    parts[1] = &forged;
    let forged = parts.join(".");
    let jws = Jws::parse(&forged).unwrap();
    assert_eq!(
        jws.verify(&[PublicKey::from_pem(&key.pem()).unwrap()]),
        Err(JwtError::Signature)
    );
}

#[test]
fn es256_verifies() {
    let kp = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let token = encode("ES256", &projected(now()), |m| {
        kp.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec()
    });
    let key = PublicKey::from_pem(&pem(kp.public_key().as_der().unwrap().as_ref())).unwrap();
    assert!(matches!(key, PublicKey::Ec("P-256", _)));
    let jws = Jws::parse(&token).unwrap();
    assert!(jws.verify(std::slice::from_ref(&key)).is_ok());
    // An RS256 header with the EC key never verifies.
    let rs = Rsa::new().token(&projected(now()));
    assert!(Jws::parse(&rs).unwrap().verify(&[key]).is_err());
}

#[test]
fn malformed_tokens_are_signature_errors() {
    for bad in ["notajwt", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.e30"] {
        assert_eq!(Jws::parse(bad).err(), Some(JwtError::Signature), "{bad}");
    }
    assert!(PublicKey::from_pem("not a pem").is_err());
}

#[test]
fn claim_checks_in_cap_order() {
    let key = Rsa::new();
    let check = |claims: &Value, iss: &str, aud: &str| {
        let t = key.token(claims);
        check_claims(&Jws::parse(&t).unwrap(), &expected(iss, aud))
    };
    let c = projected(now());
    assert!(check(&c, "", "").is_ok());
    assert!(
        check(
            &c,
            "https://kubernetes.default.svc.cluster.local",
            "https://kubernetes.default.svc"
        )
        .is_ok()
    );
    assert_eq!(
        check(&c, "other", ""),
        Err(claim_err("invalid issuer (iss) claim"))
    );
    assert_eq!(
        check(&c, "", "vault"),
        Err(claim_err(
            "invalid audience (aud) claim: audience claim does not match any expected audience"
        ))
    );
    let mut expired = c.clone();
    expired["exp"] = json!(now() - 61);
    expired["iat"] = json!(now() - 4000);
    expired["nbf"] = json!(now() - 4000);
    assert_eq!(
        check(&expired, "", ""),
        Err(claim_err(
            "invalid expiration time (exp) claim: token is expired"
        ))
    );
    // Within the 60 s clock skew it is still valid.
    expired["exp"] = json!(now() - 59);
    assert!(check(&expired, "", "").is_ok());
    let mut future = c.clone();
    future["nbf"] = json!(now() + 120);
    assert_eq!(
        check(&future, "", ""),
        Err(claim_err(
            "invalid not before (nbf) claim: token not yet valid"
        ))
    );
    // Only iat, older than 150 s + 60 s: the implied expiry has passed.
    let only_iat = json!({"iat": now() - 300});
    assert_eq!(
        check(&only_iat, "", ""),
        Err(claim_err(
            "invalid expiration time (exp) claim: token is expired"
        ))
    );
    // No time claims at all (legacy secret tokens) is allowed.
    assert!(check(&json!({"iss": "kubernetes/serviceaccount"}), "", "").is_ok());
}

#[test]
fn unsupported_and_unsigned_algorithms() {
    // HS256 does not even parse (OpenBao: permission denied).
    let hs = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
    let p = URL_SAFE_NO_PAD.encode("{}");
    assert_eq!(
        Jws::parse(&format!("{hs}.{p}.c2ln")).err(),
        Some(JwtError::Signature)
    );
    // PS256 parses, but Kubernetes tokens may not use it.
    let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"PS256"}"#);
    let t = format!("{h}.{p}.c2ln");
    assert_eq!(
        check_claims(&Jws::parse(&t).unwrap(), &expected("", "")),
        Err(claim_err(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
        ))
    );
    let t = format!("{h}.{p}.");
    assert_eq!(
        check_claims(&Jws::parse(&t).unwrap(), &expected("", "")),
        Err(claim_err(
            "invalid algorithm (alg) header parameter: token must be signed"
        ))
    );
}

#[test]
fn service_account_from_both_layouts() {
    let legacy = json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "default",
        "kubernetes.io/serviceaccount/secret.name": "app-token",
        "kubernetes.io/serviceaccount/service-account.name": "app",
        "kubernetes.io/serviceaccount/service-account.uid": "1111-2222",
        "sub": "system:serviceaccount:default:app"
    });
    let sa = ServiceAccount::from_claims(legacy.as_object().unwrap()).unwrap();
    assert_eq!(
        (
            sa.name.as_str(),
            sa.namespace.as_str(),
            sa.uid.as_str(),
            sa.secret_name.as_str()
        ),
        ("app", "default", "1111-2222", "app-token")
    );
    let sa = ServiceAccount::from_claims(projected(now()).as_object().unwrap()).unwrap();
    assert_eq!((sa.name.as_str(), sa.uid.as_str()), ("app", "sa-uid"));
    assert_eq!(
        sa.audiences,
        vec!["https://kubernetes.default.svc".to_owned()]
    );
    assert!(ServiceAccount::from_claims(json!({"kubernetes.io": 3}).as_object().unwrap()).is_err());
}
