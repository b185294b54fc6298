//! Stored ACL policies (`sys/policies/acl`, legacy `sys/policy`): the built-in
//! `default` and `root`, versions with check-and-set, and a cache of compiled
//! ACLs per policy set so authorisation costs no parsing on the hot path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use coffer_core::logical::{Error, Result};
use coffer_core::policy::{Acl, DEFAULT_POLICY, Policy};
use serde::{Deserialize, Serialize};

use crate::barrier::View;
use crate::ids;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub name: String,
    pub policy: String,
    pub version: u64,
    pub modified: String,
}

pub struct PolicyStore {
    view: View,
    acls: RwLock<HashMap<Vec<String>, Arc<Acl>>>,
    parsed: RwLock<HashMap<String, Policy>>,
}

impl PolicyStore {
    /// Opens the store and installs the `default` policy on first use.
    pub async fn open(view: View) -> Result<Self> {
        let store = PolicyStore {
            view,
            acls: RwLock::new(HashMap::new()),
            parsed: RwLock::new(HashMap::new()),
        };
        if store.get("default").await?.is_none() {
            store.put("default", DEFAULT_POLICY, None).await?;
        }
        Ok(store)
    }

    pub async fn get(&self, name: &str) -> Result<Option<StoredPolicy>> {
        if name == "root" {
            return Ok(Some(StoredPolicy {
                name: "root".into(),
                policy: String::new(),
                version: 0,
                modified: String::new(),
            }));
        }
        Ok(self.view.get_json(name).await?)
    }

    pub async fn list(&self) -> Result<Vec<String>> {
        let mut names = self.view.list("").await?;
        names.push("root".into());
        names.sort();
        Ok(names)
    }

    /// Stores a policy after parsing it; `cas` must match the current version when given.
    pub async fn put(&self, name: &str, text: &str, cas: Option<u64>) -> Result<()> {
        let name = name.to_lowercase();
        if name == "root" {
            return Err(Error::bad_request("cannot update \"root\" policy"));
        }
        // Parsing also decodes base64 text; the decoded text is what is stored.
        let parsed = Policy::parse(&name, text).map_err(|e| Error::bad_request(e.to_string()))?;
        let current = self.get(&name).await?;
        let version = current.as_ref().map_or(0, |p| p.version);
        if let Some(cas) = cas
            && cas != version
        {
            return Err(Error::bad_request(format!(
                "check-and-set parameter {cas} did not match the current version {version}"
            )));
        }
        let stored = StoredPolicy {
            name: name.clone(),
            policy: parsed.text.clone(),
            version: version + 1,
            modified: ids::rfc3339_now(),
        };
        self.view.put_json(&name, &stored).await?;
        self.parsed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, parsed);
        self.acls.write().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        match name {
            "default" => return Err(Error::bad_request("cannot delete default policy")),
            "root" => return Err(Error::bad_request("cannot delete \"root\" policy")),
            _ => {}
        }
        self.view.delete(name).await?;
        self.parsed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.acls.write().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }

    /// The compiled ACL for a token's policies (cached per policy set).
    pub async fn acl(&self, policies: &[String]) -> Result<Arc<Acl>> {
        if let Some(acl) = self
            .acls
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(policies)
        {
            return Ok(acl.clone());
        }
        let acl = if policies.iter().any(|p| p == "root") {
            Acl::root()
        } else {
            let mut parsed = Vec::with_capacity(policies.len());
            for name in policies {
                if let Some(p) = self.parsed_policy(name).await? {
                    parsed.push(p);
                }
            }
            Acl::new(&parsed)
        };
        let acl = Arc::new(acl);
        self.acls
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(policies.to_vec(), acl.clone());
        Ok(acl)
    }

    async fn parsed_policy(&self, name: &str) -> Result<Option<Policy>> {
        if let Some(p) = self
            .parsed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Some(p.clone()));
        }
        let Some(stored) = self.get(name).await? else {
            return Ok(None);
        };
        let parsed = Policy::parse(name, &stored.policy)
            .map_err(|e| Error::internal(format!("stored policy {name:?} is invalid: {e}")))?;
        self.parsed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), parsed.clone());
        Ok(Some(parsed))
    }
}
