//! `auth/token/`: create, look up, renew and revoke tokens.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_core::fields::{self, boolean, opt_boolean, str_list, str_map, uint};
use coffer_core::logical::{Auth, Error, Object, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{TokenEntry, TokenStore};
use crate::framework::{Backend, Ctx};
use coffer_core::duration::de_secs as duration;

#[derive(Clone, Copy, Debug)]
enum Route {
    Create,
    CreateOrphan,
    Lookup,
    LookupSelf,
    LookupAccessor,
    Renew,
    RenewSelf,
    RenewAccessor,
    Revoke,
    RevokeSelf,
    RevokeAccessor,
    RevokeOrphan,
    Accessors,
}

use Operation::{List, Read, Update};

const CREATE_FIELDS: &[&str] = &[
    "id",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "display_name",
    "num_uses",
    "ttl",
    "explicit_max_ttl",
    "period",
    "renewable",
    "type",
    "entity_alias",
    "lease",
    "role_name",
];

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "create",
        route: Route::Create,
        operations: &[Update],
        fields: CREATE_FIELDS,
        existence_check: false,
        help: "create a child token",
    },
    PathSpec {
        pattern: "create-orphan",
        route: Route::CreateOrphan,
        operations: &[Update],
        fields: CREATE_FIELDS,
        existence_check: false,
        help: "create an orphan token",
    },
    PathSpec {
        pattern: "lookup",
        route: Route::Lookup,
        operations: &[Read, Update],
        fields: &["token"],
        existence_check: false,
        help: "look up a token",
    },
    PathSpec {
        pattern: "lookup-self",
        route: Route::LookupSelf,
        operations: &[Read, Update],
        fields: &["token"],
        existence_check: false,
        help: "look up the calling token",
    },
    PathSpec {
        pattern: "lookup-accessor",
        route: Route::LookupAccessor,
        operations: &[Update],
        fields: &["accessor"],
        existence_check: false,
        help: "look up a token by accessor",
    },
    PathSpec {
        pattern: "renew",
        route: Route::Renew,
        operations: &[Update],
        fields: &["token", "increment"],
        existence_check: false,
        help: "renew a token",
    },
    PathSpec {
        pattern: "renew-self",
        route: Route::RenewSelf,
        operations: &[Update],
        fields: &["token", "increment"],
        existence_check: false,
        help: "renew the calling token",
    },
    PathSpec {
        pattern: "renew-accessor",
        route: Route::RenewAccessor,
        operations: &[Update],
        fields: &["accessor", "increment"],
        existence_check: false,
        help: "renew a token by accessor",
    },
    PathSpec {
        pattern: "revoke",
        route: Route::Revoke,
        operations: &[Update],
        fields: &["token"],
        existence_check: false,
        help: "revoke a token and its children",
    },
    PathSpec {
        pattern: "revoke-self",
        route: Route::RevokeSelf,
        operations: &[Update],
        fields: &[],
        existence_check: false,
        help: "revoke the calling token",
    },
    PathSpec {
        pattern: "revoke-accessor",
        route: Route::RevokeAccessor,
        operations: &[Update],
        fields: &["accessor"],
        existence_check: false,
        help: "revoke a token by accessor",
    },
    PathSpec {
        pattern: "revoke-orphan",
        route: Route::RevokeOrphan,
        operations: &[Update],
        fields: &["token"],
        existence_check: false,
        help: "revoke a token, orphaning its children",
    },
    PathSpec {
        pattern: "accessors",
        route: Route::Accessors,
        operations: &[List],
        fields: &[],
        existence_check: false,
        help: "list token accessors",
    },
]);

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateFields {
    id: Option<String>,
    #[serde(deserialize_with = "str_list")]
    policies: Vec<String>,
    #[serde(deserialize_with = "str_map")]
    meta: indexmap::IndexMap<String, String>,
    #[serde(deserialize_with = "boolean")]
    no_parent: bool,
    #[serde(deserialize_with = "boolean")]
    no_default_policy: bool,
    #[serde(deserialize_with = "fields::string")]
    display_name: String,
    #[serde(deserialize_with = "uint")]
    num_uses: u64,
    #[serde(deserialize_with = "duration")]
    ttl: u64,
    #[serde(deserialize_with = "duration")]
    explicit_max_ttl: u64,
    #[serde(deserialize_with = "duration")]
    period: u64,
    #[serde(deserialize_with = "opt_boolean")]
    renewable: Option<bool>,
    #[serde(rename = "type", deserialize_with = "fields::string")]
    kind: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenField {
    #[serde(deserialize_with = "fields::string")]
    token: String,
    #[serde(deserialize_with = "fields::string")]
    accessor: String,
    #[serde(deserialize_with = "duration")]
    increment: u64,
}

pub struct TokenBackend {
    store: Arc<TokenStore>,
}

impl TokenBackend {
    pub fn new(store: Arc<TokenStore>) -> Self {
        TokenBackend { store }
    }

    async fn entry_for(&self, token: &str) -> Result<Arc<TokenEntry>> {
        if token.is_empty() {
            return Err(Error::bad_request("missing token"));
        }
        self.store
            .lookup(token)
            .await?
            .ok_or_else(|| Error::Forbidden("bad token".into()))
    }

    async fn entry_for_accessor(&self, accessor: &str) -> Result<Arc<TokenEntry>> {
        if accessor.is_empty() {
            return Err(Error::bad_request("missing accessor"));
        }
        self.store
            .lookup_accessor(accessor)
            .await?
            .ok_or_else(|| Error::bad_request("1 error occurred:\n\t* invalid accessor\n\n"))
    }

    async fn renew(&self, entry: &TokenEntry, id: &str, increment: u64) -> Result<Response> {
        let (entry, warnings) = self.store.renew(&entry.hash, increment).await?;
        Ok(Response {
            auth_rendered: Some(render_auth(id, &entry)),
            warnings,
            ..Response::default()
        })
    }
}

/// The `auth` block of a response for an existing token.
pub fn render_auth(id: &str, entry: &TokenEntry) -> Object {
    let meta = if entry.meta.is_empty() {
        Value::Null
    } else {
        json!(entry.meta)
    };
    let ttl = entry.ttl_remaining(crate::ids::now_unix());
    json!({
        "client_token": id,
        "accessor": entry.accessor,
        "policies": entry.policies,
        "token_policies": entry.policies,
        "metadata": meta,
        "lease_duration": ttl,
        "renewable": entry.renewable,
        "entity_id": entry.entity_id,
        "token_type": "service",
        "orphan": entry.orphan,
        "mfa_requirement": null,
        "num_uses": entry.num_uses,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// Sorted, de-duplicated policies with `default` added unless excluded or root.
pub fn normalize_policies(mut policies: Vec<String>, no_default: bool) -> Vec<String> {
    if !no_default && !policies.iter().any(|p| p == "root") {
        policies.push("default".into());
    }
    policies.sort();
    policies.dedup();
    policies
}

#[async_trait]
impl Backend for TokenBackend {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let caller = ctx.token;
        match matched.spec.route {
            Route::Create | Route::CreateOrphan => {
                let f: CreateFields = fields::parse(&req.data)?;
                let caller = caller.ok_or(Error::PermissionDenied)?;
                if !f.kind.is_empty() && f.kind != "service" && f.kind != "default" {
                    return Err(Error::bad_request(format!(
                        "unsupported token type {:?}: only service tokens are available",
                        f.kind
                    )));
                }
                let caller_root = caller.is_root();
                if f.id.is_some() && !caller_root {
                    return Err(Error::bad_request(
                        "root or sudo privileges required to specify token id",
                    ));
                }
                let orphan = matches!(matched.spec.route, Route::CreateOrphan) || f.no_parent;
                if f.no_parent && !caller_root && !ctx.sudo {
                    return Err(Error::bad_request(
                        "root or sudo privileges required to create orphan token",
                    ));
                }
                let requested = if f.policies.is_empty() {
                    caller.policies.clone()
                } else {
                    f.policies.clone()
                };
                if !caller_root {
                    let allowed = |p: &String| p == "default" || caller.policies.contains(p);
                    if !requested.iter().all(allowed) {
                        return Err(Error::AclDenied);
                    }
                }
                let policies = normalize_policies(requested, f.no_default_policy);
                let display_name = if f.display_name.is_empty() {
                    "token".to_owned()
                } else {
                    format!("token-{}", f.display_name)
                };
                Ok(Response {
                    auth: Some(Auth {
                        policies,
                        metadata: f.meta,
                        display_name,
                        ttl: f.ttl,
                        explicit_max_ttl: f.explicit_max_ttl,
                        period: f.period,
                        num_uses: f.num_uses,
                        renewable: f.renewable.unwrap_or(true),
                        no_default_policy: f.no_default_policy,
                        child_of_caller: !orphan,
                        id: f.id,
                        max_ttl: ctx.max_lease_ttl,
                        ..Auth::default()
                    }),
                    warnings: matched.warnings(req),
                    ..Response::default()
                })
            }
            Route::Lookup => {
                let f: TokenField = fields::parse(&req.data)?;
                let token = if f.token.is_empty() {
                    ctx.client_token.to_owned()
                } else {
                    f.token
                };
                let entry = self.entry_for(&token).await?;
                Ok(Response::data(entry.lookup_data(&token)))
            }
            Route::LookupSelf => {
                let entry = caller.ok_or(Error::PermissionDenied)?;
                Ok(Response::data(entry.lookup_data(ctx.client_token)))
            }
            Route::LookupAccessor => {
                let f: TokenField = fields::parse(&req.data)?;
                let entry = self.entry_for_accessor(&f.accessor).await?;
                Ok(Response::data(entry.lookup_data("")))
            }
            Route::Renew => {
                let f: TokenField = fields::parse(&req.data)?;
                let entry = self
                    .entry_for(&f.token)
                    .await
                    .map_err(|_| Error::bad_request("token not found"))?;
                self.renew(&entry, &f.token, f.increment).await
            }
            Route::RenewSelf => {
                let f: TokenField = fields::parse(&req.data)?;
                let entry = caller.ok_or(Error::PermissionDenied)?;
                self.renew(entry, ctx.client_token, f.increment).await
            }
            Route::RenewAccessor => {
                let f: TokenField = fields::parse(&req.data)?;
                let entry = self.entry_for_accessor(&f.accessor).await?;
                self.renew(&entry, "", f.increment).await
            }
            Route::Revoke => {
                let f: TokenField = fields::parse(&req.data)?;
                if f.token.is_empty() {
                    return Err(Error::bad_request("missing token"));
                }
                self.store.revoke_tree(&self.store.hash(&f.token)).await?;
                Ok(Response::empty())
            }
            Route::RevokeSelf => {
                let entry = caller.ok_or(Error::PermissionDenied)?;
                self.store.revoke_tree(&entry.hash).await?;
                Ok(Response::empty())
            }
            Route::RevokeAccessor => {
                let f: TokenField = fields::parse(&req.data)?;
                let entry = self.entry_for_accessor(&f.accessor).await?;
                self.store.revoke_tree(&entry.hash).await?;
                Ok(Response::empty())
            }
            Route::RevokeOrphan => {
                let f: TokenField = fields::parse(&req.data)?;
                let hash = self.store.hash(&f.token);
                if f.token.is_empty() || self.store.lookup_hash(&hash).await?.is_none() {
                    return Err(Error::bad_request("token to revoke not found"));
                }
                self.store.revoke_orphan(&hash).await?;
                Ok(Response::empty())
            }
            Route::Accessors => Ok(Response::list(self.store.accessors().await?)),
        }
    }
}
