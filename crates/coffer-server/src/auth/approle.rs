//! `auth/approle`: machine login with a role ID and a secret ID. Secret IDs
//! are stored only as HMACs, with use counts, TTLs and CIDR bounds.

use async_trait::async_trait;
use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{self, opt_boolean, opt_str_list, opt_uint};
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable, concat_fields};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Mutex;

use super::token_params::{self, TokenFields, TokenParams};
use crate::barrier::View;
use crate::framework::{Backend, Ctx, stored_item_exists};
use crate::{ids, net};

#[derive(Clone, Copy, Debug)]
enum Route {
    Roles,
    Role,
    RoleId,
    SecretId,
    CustomSecretId,
    SecretIdLookup,
    SecretIdDestroy,
    AccessorLookup,
    AccessorDestroy,
    Login,
    Tidy,
}

use Operation::{Delete, List, Read, Update};

const ROLE_FIELDS: [&str; 6 + token_params::FIELDS.len()] = concat_fields(
    &[
        "bind_secret_id",
        "secret_id_bound_cidrs",
        "secret_id_num_uses",
        "secret_id_ttl",
        "local_secret_ids",
        "role_id",
    ],
    token_params::FIELDS,
);
const SECRET_ID_FIELDS: &[&str] = &[
    "metadata",
    "cidr_list",
    "token_bound_cidrs",
    "num_uses",
    "ttl",
    "secret_id",
];

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "role",
        route: Route::Roles,
        operations: &[List],
        fields: &[],
        existence_check: false,
        help: "list roles",
    },
    PathSpec {
        pattern: "role/{role_name}",
        route: Route::Role,
        operations: &[Read, Update, Delete],
        fields: &ROLE_FIELDS,
        existence_check: true,
        help: "manage a role",
    },
    PathSpec {
        pattern: "role/{role_name}/role-id",
        route: Route::RoleId,
        operations: &[Read, Update],
        fields: &["role_id"],
        existence_check: false,
        help: "a role's role ID",
    },
    PathSpec {
        pattern: "role/{role_name}/secret-id",
        route: Route::SecretId,
        operations: &[Update, List],
        fields: SECRET_ID_FIELDS,
        existence_check: false,
        help: "generate or list secret IDs",
    },
    PathSpec {
        pattern: "role/{role_name}/custom-secret-id",
        route: Route::CustomSecretId,
        operations: &[Update],
        fields: SECRET_ID_FIELDS,
        existence_check: false,
        help: "register a chosen secret ID",
    },
    PathSpec {
        pattern: "role/{role_name}/secret-id/lookup",
        route: Route::SecretIdLookup,
        operations: &[Update],
        fields: &["secret_id"],
        existence_check: false,
        help: "look up a secret ID",
    },
    PathSpec {
        pattern: "role/{role_name}/secret-id/destroy",
        route: Route::SecretIdDestroy,
        operations: &[Update, Delete],
        fields: &["secret_id"],
        existence_check: false,
        help: "destroy a secret ID",
    },
    PathSpec {
        pattern: "role/{role_name}/secret-id-accessor/lookup",
        route: Route::AccessorLookup,
        operations: &[Update],
        fields: &["secret_id_accessor"],
        existence_check: false,
        help: "look up a secret ID by accessor",
    },
    PathSpec {
        pattern: "role/{role_name}/secret-id-accessor/destroy",
        route: Route::AccessorDestroy,
        operations: &[Update, Delete],
        fields: &["secret_id_accessor"],
        existence_check: false,
        help: "destroy a secret ID by accessor",
    },
    PathSpec {
        pattern: "login",
        route: Route::Login,
        operations: &[Update],
        fields: &["role_id", "secret_id"],
        existence_check: false,
        help: "log in with role ID and secret ID",
    },
    PathSpec {
        pattern: "tidy/secret-id",
        route: Route::Tidy,
        operations: &[Update],
        fields: &[],
        existence_check: false,
        help: "remove expired secret IDs",
    },
]);

#[derive(Serialize, Deserialize, Clone)]
struct Role {
    role_id: String,
    bind_secret_id: bool,
    secret_id_bound_cidrs: Vec<String>,
    secret_id_num_uses: u64,
    secret_id_ttl: u64,
    local_secret_ids: bool,
    #[serde(flatten)]
    token: TokenParams,
}

impl Default for Role {
    fn default() -> Self {
        Role {
            role_id: ids::uuid(),
            bind_secret_id: true,
            secret_id_bound_cidrs: Vec::new(),
            secret_id_num_uses: 0,
            secret_id_ttl: 0,
            local_secret_ids: false,
            token: TokenParams::default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleFields {
    #[serde(deserialize_with = "opt_boolean")]
    bind_secret_id: Option<bool>,
    #[serde(deserialize_with = "opt_str_list")]
    secret_id_bound_cidrs: Option<Vec<String>>,
    #[serde(deserialize_with = "opt_uint")]
    secret_id_num_uses: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    secret_id_ttl: Option<u64>,
    #[serde(deserialize_with = "opt_boolean")]
    local_secret_ids: Option<bool>,
    role_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
struct SecretIdEntry {
    accessor: String,
    num_uses: u64,
    ttl: u64,
    creation_time: String,
    expiration_time: Option<i64>,
    last_updated_time: String,
    metadata: IndexMap<String, String>,
    cidr_list: Vec<String>,
    token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    fn to_json(&self) -> Object {
        let expiration = self
            .expiration_time
            .map(ids::rfc3339_unix)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
        json!({
            "cidr_list": self.cidr_list,
            "creation_time": self.creation_time,
            "expiration_time": expiration,
            "last_updated_time": self.last_updated_time,
            "metadata": self.metadata,
            "secret_id_accessor": self.accessor,
            "secret_id_num_uses": self.num_uses,
            "secret_id_ttl": self.ttl,
            "token_bound_cidrs": self.token_bound_cidrs,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SecretIdFields {
    #[serde(deserialize_with = "fields::str_map")]
    metadata: IndexMap<String, String>,
    #[serde(deserialize_with = "fields::str_list")]
    cidr_list: Vec<String>,
    #[serde(deserialize_with = "fields::str_list")]
    token_bound_cidrs: Vec<String>,
    #[serde(deserialize_with = "opt_uint")]
    num_uses: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    ttl: Option<u64>,
    #[serde(deserialize_with = "fields::string")]
    secret_id: String,
    #[serde(deserialize_with = "fields::string")]
    secret_id_accessor: String,
    #[serde(deserialize_with = "fields::string")]
    role_id: String,
}

#[derive(Default)]
pub struct AppRole {
    /// Serialises secret-ID use counting and role updates.
    lock: Mutex<()>,
}

/// HMAC of a role or secret ID under this mount's salt (created on first use).
async fn hmac_of(view: &View, value: &str) -> Result<String> {
    let salt = match view.get("salt").await? {
        Some(s) => s,
        None => {
            let s = coffer_crypto::random_bytes(32);
            view.put("salt", &s).await?;
            coffer_crypto::SecretBytes::new(s)
        }
    };
    Ok(coffer_crypto::hmac::sha256_hex(
        salt.expose(),
        value.as_bytes(),
    ))
}

fn role_key(name: &str) -> String {
    format!("role/{}", name.to_lowercase())
}

async fn load_role(view: &View, name: &str) -> Result<Role> {
    view.get_json(&role_key(name))
        .await?
        .ok_or_else(|| Error::bad_request(format!("role {name:?} does not exist")))
}

impl AppRole {
    async fn issue_secret_id(
        &self,
        view: &View,
        name: &str,
        f: SecretIdFields,
        custom: bool,
    ) -> Result<Response> {
        let role = load_role(view, name).await?;
        let secret_id = if custom {
            if f.secret_id.is_empty() {
                return Err(Error::bad_request("missing secret_id"));
            }
            f.secret_id
        } else {
            ids::uuid()
        };
        for cidr in f.cidr_list.iter().chain(&f.token_bound_cidrs) {
            net::parse_cidr(cidr).map_err(|e| Error::bad_request(e.to_string()))?;
        }
        let ttl = f.ttl.unwrap_or(role.secret_id_ttl);
        let num_uses = f.num_uses.unwrap_or(role.secret_id_num_uses);
        let now = ids::rfc3339_now();
        let entry = SecretIdEntry {
            accessor: ids::uuid(),
            num_uses,
            ttl,
            creation_time: now.clone(),
            expiration_time: (ttl > 0).then(|| ids::now_unix() + ttl as i64),
            last_updated_time: now,
            metadata: f.metadata,
            cidr_list: f.cidr_list,
            token_bound_cidrs: f.token_bound_cidrs,
        };
        let hashed = hmac_of(view, &secret_id).await?;
        let skey = format!("secret_id/{}/{hashed}", name.to_lowercase());
        let akey = format!("accessor/{}/{}", name.to_lowercase(), entry.accessor);
        let entry_bytes = serde_json::to_vec(&entry).map_err(Error::internal)?;
        view.transaction(vec![
            (skey.as_str(), Some(entry_bytes)),
            (akey.as_str(), Some(hashed.into_bytes())),
        ])
        .await?;
        let mut data = Object::new();
        data.insert("secret_id".into(), secret_id.into());
        data.insert("secret_id_accessor".into(), entry.accessor.into());
        data.insert("secret_id_num_uses".into(), num_uses.into());
        data.insert("secret_id_ttl".into(), ttl.into());
        Ok(Response::data(data))
    }

    async fn secret_id_by_accessor(
        &self,
        view: &View,
        name: &str,
        accessor: &str,
    ) -> Result<(String, SecretIdEntry)> {
        let missing = || {
            Error::bad_request(format!(
                "failed to find accessor entry for secret_id_accessor: {accessor:?}"
            ))
        };
        let hashed = view
            .get(&format!("accessor/{}/{accessor}", name.to_lowercase()))
            .await?
            .ok_or_else(missing)?;
        let hashed = String::from_utf8(hashed.expose().to_vec())
            .map_err(|_| Error::internal("malformed accessor entry"))?;
        let entry: SecretIdEntry = view
            .get_json(&format!("secret_id/{}/{hashed}", name.to_lowercase()))
            .await?
            .ok_or_else(missing)?;
        Ok((hashed, entry))
    }

    async fn destroy(&self, view: &View, name: &str, hashed: &str, accessor: &str) -> Result<()> {
        let skey = format!("secret_id/{}/{hashed}", name.to_lowercase());
        let akey = format!("accessor/{}/{accessor}", name.to_lowercase());
        view.transaction(vec![(skey.as_str(), None), (akey.as_str(), None)])
            .await?;
        Ok(())
    }

    async fn login(&self, ctx: &Ctx<'_>, f: SecretIdFields) -> Result<Response> {
        let view = ctx.view;
        let invalid = || Error::bad_request("invalid role or secret ID");
        if f.role_id.is_empty() {
            return Err(Error::bad_request("missing role_id"));
        }
        let role_hash = hmac_of(view, &f.role_id).await?;
        let name = match view.get(&format!("role_id/{role_hash}")).await? {
            Some(n) => String::from_utf8(n.expose().to_vec())
                .map_err(|_| Error::internal("malformed role id index"))?,
            None => return Err(invalid()),
        };
        let role: Role = view.get_json(&role_key(&name)).await?.ok_or_else(invalid)?;
        if !net::allowed(&role.secret_id_bound_cidrs, ctx.remote_addr) {
            return Err(invalid());
        }
        let mut metadata = IndexMap::new();
        metadata.insert("role_name".to_owned(), name.clone());
        let mut token_cidrs = role.token.token_bound_cidrs.clone();
        if role.bind_secret_id {
            if f.secret_id.is_empty() {
                return Err(Error::bad_request("missing secret_id"));
            }
            let hashed = hmac_of(view, &f.secret_id).await?;
            let skey = format!("secret_id/{name}/{hashed}");
            let _guard = self.lock.lock().await;
            let mut entry: SecretIdEntry = view.get_json(&skey).await?.ok_or_else(invalid)?;
            if entry.expiration_time.is_some_and(|t| t <= ids::now_unix()) {
                self.destroy(view, &name, &hashed, &entry.accessor.clone())
                    .await?;
                return Err(invalid());
            }
            if !net::allowed(&entry.cidr_list, ctx.remote_addr) {
                return Err(invalid());
            }
            match entry.num_uses {
                0 => {}
                1 => {
                    self.destroy(view, &name, &hashed, &entry.accessor.clone())
                        .await?
                }
                _ => {
                    entry.num_uses -= 1;
                    entry.last_updated_time = ids::rfc3339_now();
                    view.put_json(&skey, &entry).await?;
                }
            }
            metadata.extend(entry.metadata.clone());
            if !entry.token_bound_cidrs.is_empty() {
                token_cidrs = entry.token_bound_cidrs.clone();
            }
        }
        let mut auth = role.token.auth(format!("approle-{name}"));
        auth.bound_cidrs = token_cidrs;
        auth.metadata = metadata;
        auth.internal.insert("role_name".into(), name.into());
        Ok(Response {
            auth: Some(auth),
            ..Response::default()
        })
    }
}

#[async_trait]
impl Backend for AppRole {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let view = ctx.view;
        let name = matched.get("role_name").to_lowercase();
        let mut warnings = matched.warnings(req);
        let resp = match (matched.spec.route, req.operation) {
            (Route::Roles, _) => {
                let keys = view.list("role/").await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Response::list(keys)
            }
            (Route::Role, Read) => {
                let Some(role) = view.get_json::<Role>(&role_key(&name)).await? else {
                    return Err(Error::NotFound);
                };
                let mut data = role.token.with_default_type("default").to_json();
                data.insert("bind_secret_id".into(), role.bind_secret_id.into());
                data.insert("local_secret_ids".into(), role.local_secret_ids.into());
                let cidrs = if role.secret_id_bound_cidrs.is_empty() {
                    serde_json::Value::Null
                } else {
                    json!(role.secret_id_bound_cidrs)
                };
                data.insert("secret_id_bound_cidrs".into(), cidrs);
                data.insert("secret_id_num_uses".into(), role.secret_id_num_uses.into());
                data.insert("secret_id_ttl".into(), role.secret_id_ttl.into());
                data.sort_keys();
                Response::data(data)
            }
            (Route::Role, Delete) => {
                let _guard = self.lock.lock().await;
                if let Some(role) = view.get_json::<Role>(&role_key(&name)).await? {
                    let rh = hmac_of(view, &role.role_id).await?;
                    view.delete(&format!("role_id/{rh}")).await?;
                    view.delete_prefix(&format!("secret_id/{name}/")).await?;
                    view.delete_prefix(&format!("accessor/{name}/")).await?;
                    view.delete(&role_key(&name)).await?;
                }
                Response::empty()
            }
            (Route::Role, _) => {
                let rf: RoleFields = fields::parse(&req.data)?;
                let tf: TokenFields = fields::parse(&req.data)?;
                let _guard = self.lock.lock().await;
                let existing: Option<Role> = view.get_json(&role_key(&name)).await?;
                let old_role_id = existing.as_ref().map(|r| r.role_id.clone());
                let mut role = existing.unwrap_or_default();
                if let Some(v) = rf.bind_secret_id {
                    role.bind_secret_id = v;
                }
                if let Some(v) = rf.secret_id_bound_cidrs {
                    for c in &v {
                        net::parse_cidr(c).map_err(|e| Error::bad_request(e.to_string()))?;
                    }
                    role.secret_id_bound_cidrs = v;
                }
                if let Some(v) = rf.secret_id_num_uses {
                    role.secret_id_num_uses = v;
                }
                if let Some(v) = rf.secret_id_ttl {
                    role.secret_id_ttl = v;
                }
                if let Some(v) = rf.local_secret_ids {
                    role.local_secret_ids = v;
                }
                if let Some(v) = rf.role_id.filter(|v| !v.is_empty()) {
                    role.role_id = v;
                }
                role.token.update(&tf).map_err(Error::BadRequest)?;
                if !role.bind_secret_id
                    && role.secret_id_bound_cidrs.is_empty()
                    && role.token.token_bound_cidrs.is_empty()
                {
                    return Err(Error::bad_request(
                        "at least one constraint should be enabled on the role",
                    ));
                }
                self.save_role(view, &name, &role, old_role_id).await?;
                Response::empty()
            }
            (Route::RoleId, Read) => {
                let role = view
                    .get_json::<Role>(&role_key(&name))
                    .await?
                    .ok_or(Error::NotFound)?;
                let mut data = Object::new();
                data.insert("role_id".into(), role.role_id.into());
                Response::data(data)
            }
            (Route::RoleId, _) => {
                let rf: RoleFields = fields::parse(&req.data)?;
                let new_id = rf
                    .role_id
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::bad_request("missing role_id"))?;
                let _guard = self.lock.lock().await;
                let mut role = load_role(view, &name).await?;
                let old = Some(std::mem::replace(&mut role.role_id, new_id));
                self.save_role(view, &name, &role, old).await?;
                Response::empty()
            }
            (Route::SecretId, List) => {
                let keys = view.list(&format!("accessor/{name}/")).await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Response::list(keys)
            }
            (route @ (Route::SecretId | Route::CustomSecretId), _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                self.issue_secret_id(view, &name, f, matches!(route, Route::CustomSecretId))
                    .await?
            }
            (Route::SecretIdLookup, _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                let hashed = hmac_of(view, &f.secret_id).await?;
                let entry: SecretIdEntry = view
                    .get_json(&format!("secret_id/{name}/{hashed}"))
                    .await?
                    .ok_or(Error::NotFound)?;
                Response::data(entry.to_json())
            }
            (Route::SecretIdDestroy, _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                let hashed = hmac_of(view, &f.secret_id).await?;
                if let Some(entry) = view
                    .get_json::<SecretIdEntry>(&format!("secret_id/{name}/{hashed}"))
                    .await?
                {
                    self.destroy(view, &name, &hashed, &entry.accessor).await?;
                }
                Response::empty()
            }
            (Route::AccessorLookup, _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                let (_, entry) = self
                    .secret_id_by_accessor(view, &name, &f.secret_id_accessor)
                    .await?;
                Response::data(entry.to_json())
            }
            (Route::AccessorDestroy, _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                let (hashed, entry) = self
                    .secret_id_by_accessor(view, &name, &f.secret_id_accessor)
                    .await?;
                self.destroy(view, &name, &hashed, &entry.accessor).await?;
                Response::empty()
            }
            (Route::Login, _) => {
                let f: SecretIdFields = fields::parse(&req.data)?;
                return self.login(ctx, f).await;
            }
            (Route::Tidy, _) => {
                warnings.push("Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.".into());
                Response {
                    status: Some(202),
                    ..Response::default()
                }
            }
        };
        Ok(resp.with_warnings(warnings))
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        stored_item_exists(&PATHS, ctx, req, |m| role_key(m.get("role_name"))).await
    }

    fn is_unauthenticated(&self, path: &str) -> bool {
        path == "login" || path == "login/"
    }
}

impl AppRole {
    async fn save_role(
        &self,
        view: &View,
        name: &str,
        role: &Role,
        old_role_id: Option<String>,
    ) -> Result<()> {
        let new_hash = hmac_of(view, &role.role_id).await?;
        if let Some(existing) = view.get(&format!("role_id/{new_hash}")).await?
            && existing.expose() != name.as_bytes()
        {
            return Err(Error::bad_request("role_id already in use"));
        }
        let rkey = role_key(name);
        let idkey = format!("role_id/{new_hash}");
        let role_bytes = serde_json::to_vec(role).map_err(Error::internal)?;
        let mut ops: Vec<(&str, Option<Vec<u8>>)> = vec![
            (rkey.as_str(), Some(role_bytes)),
            (idkey.as_str(), Some(name.as_bytes().to_vec())),
        ];
        let old_key = match old_role_id.filter(|o| *o != role.role_id) {
            Some(old) => Some(format!("role_id/{}", hmac_of(view, &old).await?)),
            None => None,
        };
        if let Some(k) = &old_key {
            ops.push((k.as_str(), None));
        }
        view.transaction(ops).await?;
        Ok(())
    }
}
