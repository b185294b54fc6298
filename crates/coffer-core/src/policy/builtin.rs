//! Built-in policies. `root` has no text (the ACL short-circuits it); `default`
//! grants what every token needs to manage itself, with the same rules as
//! OpenBao's `default` policy (the catalog §4 lists them).

/// Text of the built-in `default` policy, attached to every non-root token unless
/// `no_default_policy` is set.
pub const DEFAULT_POLICY: &str = r#"
# A token may read its own properties.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# A token may renew itself.
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# A token may revoke itself.
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# A token may ask which capabilities it has on a path.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# A token may read its own identity entity, by id or by name.
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# A token may read the merged view of its policies (used by UIs).
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# A token may renew a lease it knows the id of.
path "sys/leases/renew" {
    capabilities = ["update"]
}

# A token may look up a lease it knows the id of.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# A token owns its cubbyhole.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# A token may wrap values in a response-wrapping token.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# A token may look up a response-wrapping token's creation time and TTL.
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# A token may unwrap a response-wrapping token.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# General purpose hashing tool.
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Requests to the authorization endpoint of OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;
