//! The login flow, in OpenBao's order and with its answers:
//! missing fields and unknown roles 400, bound CIDRs 403, no config 500,
//! unparseable or badly signed JWT 403 `permission denied`, claim checks 403
//! with cap/jwt's text, bound name/namespace 403, TokenReview refusal 403
//! `permission denied`.

use coffer_core::fields;
use coffer_core::logical::{Error, Object, Response, Result};
use indexmap::IndexMap;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::jwt::{Expected, Jws, JwtError, PublicKey, ServiceAccount, check_claims};
use super::model::{ALIAS_NAME, Config, Role, SecretString};
use super::review::{Api, ReviewError, ReviewRequest, Reviewer};
use super::selector::Selector;
use super::{CONFIG_KEY, role_key};
use crate::framework::Ctx;

/// Service account files of the pod coffer runs in.
const LOCAL_JWT: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
const LOCAL_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginFields {
    #[serde(deserialize_with = "fields::string")]
    role: String,
    #[serde(deserialize_with = "super::model::secret_field")]
    jwt: Zeroizing<String>,
}

fn io_text(path: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("open {path}: no such file or directory")
    } else {
        format!("open {path}: {e}")
    }
}

/// The CA bundle to trust: the configured one, else (unless
/// `disable_local_ca_jwt`) the pod's own, whose absence is an error.
pub async fn local_ca(cfg: &Config) -> Result<String, String> {
    if !cfg.ca_cert.is_empty() || cfg.disable_local_ca_jwt {
        return Ok(cfg.ca_cert.clone());
    }
    tokio::fs::read_to_string(LOCAL_CA)
        .await
        .map_err(|e| io_text(LOCAL_CA, &e))
}

/// The reviewer JWT: the configured one, else (unless `disable_local_ca_jwt`)
/// the pod's own token when readable; empty means "use the client's JWT".
async fn reviewer_jwt(cfg: &Config) -> SecretString {
    if !cfg.token_reviewer_jwt.is_empty() || cfg.disable_local_ca_jwt {
        return cfg.token_reviewer_jwt.clone();
    }
    match tokio::fs::read_to_string(LOCAL_JWT).await {
        Ok(s) => SecretString::new(s.trim().to_owned()),
        Err(_) => SecretString::default(),
    }
}

fn forbidden(e: JwtError) -> Error {
    match e {
        JwtError::Signature => Error::PermissionDenied,
        JwtError::Claims(msg) => Error::Forbidden(msg),
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `auth/<path>/` → `<path>-` with slashes as dashes (OpenBao's display-name source).
fn display_prefix(mount_point: &str) -> String {
    mount_point
        .strip_prefix("auth/")
        .unwrap_or(mount_point)
        .replace('/', "-")
}

/// Does the namespace's labels satisfy the role's namespace selector?
async fn namespace_selected(
    reviewer: &Reviewer,
    api: &Api<'_>,
    role: &Role,
    namespace: &str,
) -> Result<bool, ReviewError> {
    let selector = Selector::parse(&role.bound_service_account_namespace_selector)
        .map_err(ReviewError::Namespace)?;
    let labels = reviewer.namespace_labels(api, namespace).await?;
    Ok(selector.matches(&labels))
}

pub async fn login(
    ctx: &Ctx<'_>,
    reviewer: &Reviewer,
    mount_point: &str,
    f: LoginFields,
) -> Result<Response> {
    if f.role.is_empty() {
        return Err(Error::bad_request("missing role"));
    }
    if f.jwt.is_empty() {
        return Err(Error::bad_request("missing jwt"));
    }
    let view = ctx.view;
    let role: Role = view
        .get_json(&role_key(&f.role))
        .await?
        .ok_or_else(|| Error::bad_request(format!("invalid role name {:?}", f.role)))?;
    if !crate::net::allowed(&role.token.token_bound_cidrs, ctx.remote_addr) {
        return Err(Error::PermissionDenied);
    }
    let cfg: Config = view
        .get_json(CONFIG_KEY)
        .await?
        .ok_or_else(|| Error::internal("could not load backend configuration"))?;
    let ca = local_ca(&cfg).await.map_err(Error::Internal)?;
    let keys = cfg
        .pem_keys
        .iter()
        .map(|p| PublicKey::from_pem(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Internal)?;

    let jws = Jws::parse(&f.jwt).map_err(forbidden)?;
    if !keys.is_empty() {
        jws.verify(&keys).map_err(forbidden)?;
    }
    let issuer = if cfg.disable_iss_validation {
        ""
    } else {
        cfg.issuer.as_str()
    };
    let expected = Expected {
        issuer,
        audience: &role.audience,
        now: now_unix(),
    };
    check_claims(&jws, &expected).map_err(forbidden)?;
    let sa = ServiceAccount::from_claims(&jws.claims).map_err(Error::Internal)?;
    if !role.name_allowed(&sa.name) {
        return Err(Error::Forbidden(
            "service account name not authorized".into(),
        ));
    }
    let reviewer_token = reviewer_jwt(&cfg).await;
    if !role.namespace_allowed(&sa.namespace) {
        let selected = if role.bound_service_account_namespace_selector.is_empty() {
            Ok(false)
        } else {
            let api = Api {
                host: &cfg.host,
                ca_pem: &ca,
                bearer: reviewer_token.expose(),
            };
            namespace_selected(reviewer, &api, &role, &sa.namespace).await
        };
        match selected {
            Ok(true) => {}
            Ok(false) => return Err(Error::Forbidden("namespace not authorized".into())),
            Err(e) => {
                return Err(Error::Forbidden(format!(
                    "namespace not authorized err={e}"
                )));
            }
        }
    }
    let bearer = if reviewer_token.is_empty() {
        f.jwt.as_str()
    } else {
        reviewer_token.expose()
    };
    // Ask for the role's audience, else the token's own audiences.
    let want_aud = if role.audience.is_empty() {
        sa.audiences.clone()
    } else {
        vec![role.audience.clone()]
    };
    let request = ReviewRequest {
        host: &cfg.host,
        ca_pem: &ca,
        bearer,
        jwt: &f.jwt,
        audiences: &want_aud,
    };
    let reviewed = match reviewer.review(&request).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(role = %f.role, reason = %e, "kubernetes login unauthorized");
            return Err(Error::PermissionDenied);
        }
    };
    let mismatch = if reviewed.name != sa.name {
        Some("JWT names did not match")
    } else if sa.uid.is_empty() {
        Some("could not parse UID from claims")
    } else if reviewed.uid != sa.uid {
        Some("JWT UIDs did not match")
    } else if reviewed.namespace != sa.namespace {
        Some("JWT namepaces did not match")
    } else {
        None
    };
    if let Some(reason) = mismatch {
        tracing::debug!(role = %f.role, reason, "kubernetes login unauthorized");
        return Err(Error::PermissionDenied);
    }

    // OpenBao 2.7 derives the alias only after the review succeeded.
    let alias = if role.alias_name_source == ALIAS_NAME {
        if sa.namespace.is_empty() || sa.name.is_empty() {
            return Err(Error::internal(
                "service account namespace and name must be set",
            ));
        }
        format!("{}/{}", sa.namespace, sa.name)
    } else {
        if sa.uid.is_empty() {
            return Err(Error::internal("could not parse UID from claims"));
        }
        sa.uid.clone()
    };

    let display = format!(
        "{}{}-{}",
        display_prefix(mount_point),
        sa.namespace,
        sa.name
    );
    let mut auth = role.token.auth(display);
    let mut metadata = IndexMap::new();
    metadata.insert("role".to_owned(), f.role.clone());
    metadata.insert("service_account_name".to_owned(), sa.name.clone());
    metadata.insert("service_account_namespace".to_owned(), sa.namespace.clone());
    metadata.insert(
        "service_account_secret_name".to_owned(),
        sa.secret_name.clone(),
    );
    metadata.insert("service_account_uid".to_owned(), sa.uid.clone());
    auth.metadata = metadata;
    let mut internal = Object::new();
    internal.insert("role".into(), f.role.clone().into());
    internal.insert("alias".into(), alias.into());
    auth.internal = internal;
    Ok(Response {
        auth: Some(auth),
        ..Response::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_prefix_from_mount() {
        assert_eq!(display_prefix("auth/kubernetes/"), "kubernetes-");
        assert_eq!(display_prefix("auth/k8s/prod/"), "k8s-prod-");
    }
}
