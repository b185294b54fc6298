//! `sys/policies/acl`, legacy `sys/policy`, `sys/capabilities*` and
//! `sys/internal/ui/resultant-acl`.

use coffer_core::fields::{self, opt_uint};
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use coffer_core::policy::Acl;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Route, SysCtx};

#[derive(Deserialize, Default)]
#[serde(default)]
struct PolicyFields {
    policy: Option<String>,
    rules: Option<String>,
    #[serde(deserialize_with = "opt_uint")]
    cas: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CapabilityFields {
    #[serde(deserialize_with = "fields::string")]
    token: String,
    #[serde(deserialize_with = "fields::string")]
    accessor: String,
    #[serde(deserialize_with = "fields::string")]
    path: String,
    #[serde(deserialize_with = "fields::str_list")]
    paths: Vec<String>,
}

fn capabilities_response(acl: &Acl, f: &CapabilityFields) -> Result<Response> {
    let mut paths = f.paths.clone();
    if !f.path.is_empty() {
        paths.push(f.path.clone());
    }
    if paths.is_empty() {
        return Err(Error::bad_request("'paths' must be specified"));
    }
    let mut data = Object::new();
    for p in &paths {
        let caps = acl.capabilities(p.trim_start_matches('/'));
        data.insert(p.clone(), json!(caps));
    }
    if !f.path.is_empty() && f.paths.is_empty() {
        let caps = acl.capabilities(f.path.trim_start_matches('/'));
        data.insert("capabilities".into(), json!(caps));
    }
    Ok(Response::data(data).legacy())
}

pub(super) async fn handle(
    sys: &SysCtx<'_>,
    route: Route,
    name: &str,
    req: &Request,
) -> Result<Response> {
    let store = &sys.active.policies;
    let legacy = matches!(route, Route::LegacyPolicy);
    match (route, req.operation) {
        (Route::PoliciesAcl, _) => Ok(Response::list(store.list().await?)),
        (Route::LegacyPolicies, _) => {
            let names = store.list().await?;
            let mut data = Object::new();
            data.insert("keys".into(), json!(names));
            data.insert("policies".into(), json!(names));
            Ok(Response::data(data).legacy())
        }
        (Route::PolicyAcl | Route::LegacyPolicy, Operation::Read) => {
            let p = store
                .get(&name.to_lowercase())
                .await?
                .ok_or(Error::NotFound)?;
            let mut data = json!({
                "allow_slashes_in_identity_templates": false,
                "allow_wildcards_in_identity_templates": false,
                "cas_required": false,
                "modified": p.modified,
                "name": p.name,
                "policy": p.policy,
                "version": p.version,
            });
            if p.name == "root"
                && let Some(map) = data.as_object_mut()
            {
                map.shift_remove("modified");
            }
            if legacy && let Some(map) = data.as_object_mut() {
                let text = map.shift_remove("policy").unwrap_or_default();
                map.insert("rules".into(), text);
                map.sort_keys();
            }
            let resp = Response::data(data.as_object().cloned().unwrap_or_default());
            Ok(if legacy { resp.legacy() } else { resp })
        }
        (Route::PolicyAcl | Route::LegacyPolicy, Operation::Delete) => {
            store.delete(&name.to_lowercase()).await?;
            Ok(Response::empty())
        }
        (Route::PolicyAcl | Route::LegacyPolicy, _) => {
            let f: PolicyFields = fields::parse(&req.data)?;
            let mut resp = Response::empty();
            let text = match (f.policy, f.rules) {
                (Some(p), _) => p,
                (None, Some(r)) if legacy => {
                    resp.warnings
                        .push("'rules' is deprecated, please use 'policy' instead".into());
                    r
                }
                _ => {
                    return Err(Error::bad_request(
                        "'policy' parameter not supplied or empty",
                    ));
                }
            };
            store.put(name, &text, f.cas).await?;
            Ok(resp)
        }
        (Route::CapabilitiesSelf, _) => {
            let f: CapabilityFields = fields::parse(&req.data)?;
            let acl = sys.acl.ok_or(Error::PermissionDenied)?;
            capabilities_response(acl, &f)
        }
        (Route::Capabilities, _) => {
            let f: CapabilityFields = fields::parse(&req.data)?;
            let token = sys
                .active
                .tokens
                .lookup(&f.token)
                .await?
                .ok_or_else(|| Error::bad_request("invalid token"))?;
            let acl = store.acl(&token.policies).await?;
            capabilities_response(&acl, &f)
        }
        (Route::CapabilitiesAccessor, _) => {
            let f: CapabilityFields = fields::parse(&req.data)?;
            let token = sys
                .active
                .tokens
                .lookup_accessor(&f.accessor)
                .await?
                .ok_or_else(|| Error::bad_request("1 error occurred:\n\t* invalid accessor\n\n"))?;
            let acl = store.acl(&token.policies).await?;
            capabilities_response(&acl, &f)
        }
        (Route::ResultantAcl, _) => {
            let token = sys.ctx.token.ok_or(Error::PermissionDenied)?;
            let acl = store.acl(&token.policies).await?;
            let mut data: Object = match serde_json::to_value(acl.resultant()) {
                Ok(Value::Object(m)) => m,
                _ => Object::new(),
            };
            data.insert("root".into(), json!(token.is_root()));
            Ok(Response::data(data))
        }
        _ => Err(Error::UnsupportedOperation),
    }
}
