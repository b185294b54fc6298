//! `auth/userpass`: users with passwords (Argon2id hashes, never the
//! password) and the token settings their logins get.

use async_trait::async_trait;
use coffer_core::fields;
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable, concat_fields};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::token_params::{self, TokenFields, TokenParams};
use crate::framework::{Backend, Ctx, stored_item_exists};

#[derive(Clone, Copy, Debug)]
enum Route {
    User,
    Users,
    Password,
    Policies,
    Login,
}

use Operation::{Delete, List, Read, Update};

const USER_FIELDS: [&str; 1 + token_params::FIELDS.len()] =
    concat_fields(&["password"], token_params::FIELDS);

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "users",
        route: Route::Users,
        operations: &[List],
        fields: &[],
        existence_check: false,
        help: "list users",
    },
    PathSpec {
        pattern: "users/{username}",
        route: Route::User,
        operations: &[Read, Update, Delete],
        fields: &USER_FIELDS,
        existence_check: true,
        help: "manage a user",
    },
    PathSpec {
        pattern: "users/{username}/password",
        route: Route::Password,
        operations: &[Update],
        fields: &["password"],
        existence_check: false,
        help: "reset a user's password",
    },
    PathSpec {
        pattern: "users/{username}/policies",
        route: Route::Policies,
        operations: &[Update],
        fields: &["token_policies", "policies"],
        existence_check: false,
        help: "update a user's policies",
    },
    PathSpec {
        pattern: "login/{username}",
        route: Route::Login,
        operations: &[Update],
        fields: &["password"],
        existence_check: false,
        help: "log in with a password",
    },
]);

#[derive(Serialize, Deserialize, Default)]
struct User {
    password_hash: String,
    #[serde(flatten)]
    token: TokenParams,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordField {
    #[serde(deserialize_with = "fields::string")]
    password: String,
}

#[derive(Default)]
pub struct Userpass;

fn user_key(name: &str) -> String {
    format!("user/{}", name.to_lowercase())
}

async fn hash_password(password: Zeroizing<String>) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&coffer_crypto::random_array::<16>())
            .map_err(|_| Error::internal("failed to make a password salt"))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| Error::internal("failed to hash password"))
    })
    .await
    .map_err(Error::internal)?
}

/// Verifies a password; with no stored hash, still spends the same work (no user enumeration).
async fn verify_password(password: Zeroizing<String>, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0gGZ0QxI4rM3Xq0x2b8Qn3e8m5V8mG2S4w8v3C2Z1Yk";
        let stored = hash.as_deref().unwrap_or(DUMMY);
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let ok = argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

#[async_trait]
impl Backend for Userpass {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let view = ctx.view;
        let name = matched.get("username").to_lowercase();
        let warnings = matched.warnings(req);
        let resp = match (matched.spec.route, req.operation) {
            (Route::Users, _) => Response::list(view.list("user/").await?),
            (Route::User, Read) => {
                let user: User = view
                    .get_json(&user_key(&name))
                    .await?
                    .ok_or(Error::NotFound)?;
                Response::data(user.token.with_default_type("default").to_json())
            }
            (Route::User, Delete) => {
                view.delete(&user_key(&name)).await?;
                Response::empty()
            }
            (Route::User, _) => {
                let existing: Option<User> = view.get_json(&user_key(&name)).await?;
                let pw: PasswordField = fields::parse(&req.data)?;
                let tf: TokenFields = fields::parse(&req.data)?;
                let mut user = match existing {
                    Some(u) => u,
                    None if pw.password.is_empty() => {
                        return Err(Error::bad_request("missing password"));
                    }
                    None => User::default(),
                };
                if !pw.password.is_empty() {
                    user.password_hash = hash_password(Zeroizing::new(pw.password)).await?;
                }
                user.token.update(&tf).map_err(Error::BadRequest)?;
                view.put_json(&user_key(&name), &user).await?;
                Response::empty()
            }
            (Route::Password, _) => {
                let pw: PasswordField = fields::parse(&req.data)?;
                if pw.password.is_empty() {
                    return Err(Error::bad_request("missing password"));
                }
                let mut user: User = view
                    .get_json(&user_key(&name))
                    .await?
                    .ok_or_else(|| Error::bad_request("username does not exist"))?;
                user.password_hash = hash_password(Zeroizing::new(pw.password)).await?;
                view.put_json(&user_key(&name), &user).await?;
                Response::empty()
            }
            (Route::Policies, _) => {
                let tf: TokenFields = fields::parse(&req.data)?;
                let mut user: User = view
                    .get_json(&user_key(&name))
                    .await?
                    .ok_or_else(|| Error::bad_request("username does not exist"))?;
                user.token.update(&tf).map_err(Error::BadRequest)?;
                view.put_json(&user_key(&name), &user).await?;
                Response::empty()
            }
            (Route::Login, _) => {
                let pw: PasswordField = fields::parse(&req.data)?;
                let user: Option<User> = view.get_json(&user_key(&name)).await?;
                let hash = user.as_ref().map(|u| u.password_hash.clone());
                if !verify_password(Zeroizing::new(pw.password), hash).await {
                    return Err(Error::bad_request("invalid username or password"));
                }
                let Some(user) = user else {
                    return Err(Error::bad_request("invalid username or password"));
                };
                if !crate::net::allowed(&user.token.token_bound_cidrs, ctx.remote_addr) {
                    return Err(Error::PermissionDenied);
                }
                let mut auth = user.token.auth(format!("userpass-{name}"));
                auth.metadata.insert("username".into(), name.clone());
                let mut internal = Object::new();
                internal.insert("username".into(), name.into());
                auth.internal = internal;
                return Ok(Response {
                    auth: Some(auth),
                    ..Response::default()
                });
            }
        };
        Ok(resp.with_warnings(warnings))
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        stored_item_exists(&PATHS, ctx, req, |m| user_key(m.get("username"))).await
    }

    fn is_unauthenticated(&self, path: &str) -> bool {
        path.starts_with("login/")
    }
}
