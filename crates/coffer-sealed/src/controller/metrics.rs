//! The controller's Prometheus metrics with upstream's names and labels (spec §5.3), rendered
//! in the text exposition format. IO-free: the runtime records, a server calls [`Metrics::render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Inner {
    unseal_requests: u64,
    unseal_errors: BTreeMap<(String, String), u64>,
    conditions: BTreeMap<(String, String), (f64, String)>,
    http_requests: BTreeMap<(String, String, String), u64>,
    /// (path, method) → (bucket counts, sum, count)
    http_durations: BTreeMap<(String, String), (Vec<u64>, f64, u64)>,
}

/// Prometheus client_golang's default histogram buckets (seconds).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters and gauges of one controller process.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

impl Metrics {
    /// Counts one reconcile (`sealed_secrets_controller_unseal_requests_total`).
    pub fn unseal_request(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.unseal_requests += 1;
        }
    }

    /// Counts a failure; `reason` ∈ fetch, unseal, update, unmanaged, status.
    pub fn unseal_error(&self, reason: &str, namespace: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.unseal_errors
                .entry((reason.to_owned(), namespace.to_owned()))
                .or_default() += 1;
        }
    }

    /// Sets the Synced condition gauge (1 True, 0 Unknown, −1 False); `instance` is the
    /// SealedSecret's `app.kubernetes.io/instance` label.
    pub fn condition(&self, namespace: &str, name: &str, synced: Option<bool>, instance: &str) {
        let v = match synced {
            Some(true) => 1.0,
            Some(false) => -1.0,
            None => 0.0,
        };
        if let Ok(mut m) = self.inner.lock() {
            m.conditions.insert(
                (namespace.to_owned(), name.to_owned()),
                (v, instance.to_owned()),
            );
        }
    }

    /// Drops the gauge of a deleted SealedSecret.
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.conditions
                .remove(&(namespace.to_owned(), name.to_owned()));
        }
    }

    /// Counts an HTTP request of the API server.
    pub fn http_request(&self, path: &str, code: u16, method: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.http_requests
                .entry((path.to_owned(), code.to_string(), method.to_owned()))
                .or_default() += 1;
        }
    }

    /// Observes one HTTP request duration.
    pub fn http_duration(&self, path: &str, method: &str, seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            let (buckets, sum, count) = m
                .http_durations
                .entry((path.to_owned(), method.to_owned()))
                .or_insert_with(|| (vec![0; BUCKETS.len()], 0.0, 0));
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    buckets[i] += 1;
                }
            }
            *sum += seconds;
            *count += 1;
        }
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let Ok(m) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_build_info Build information."
        );
        let _ = writeln!(out, "# TYPE sealed_secrets_controller_build_info gauge");
        let _ = writeln!(
            out,
            "sealed_secrets_controller_build_info{} 1",
            labels(&vec![(
                "revision",
                format!("coffer-{}", env!("CARGO_PKG_VERSION"))
            )])
        );
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_unseal_requests_total Total number of sealed secret unseal requests"
        );
        let _ = writeln!(
            out,
            "# TYPE sealed_secrets_controller_unseal_requests_total counter"
        );
        let _ = writeln!(
            out,
            "sealed_secrets_controller_unseal_requests_total {}",
            m.unseal_requests
        );
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_unseal_errors_total Total number of sealed secret unseal errors by reason"
        );
        let _ = writeln!(
            out,
            "# TYPE sealed_secrets_controller_unseal_errors_total counter"
        );
        for ((reason, ns), n) in &m.unseal_errors {
            let _ = writeln!(
                out,
                "sealed_secrets_controller_unseal_errors_total{} {n}",
                labels(&vec![("namespace", ns.clone()), ("reason", reason.clone())])
            );
        }
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_condition_info Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), 1 (true)"
        );
        let _ = writeln!(out, "# TYPE sealed_secrets_controller_condition_info gauge");
        for ((ns, name), (v, inst)) in &m.conditions {
            let l = vec![
                ("condition", "Synced".to_owned()),
                ("name", name.clone()),
                ("namespace", ns.clone()),
                ("ss_app_kubernetes_io_instance", inst.clone()),
            ];
            let _ = writeln!(
                out,
                "sealed_secrets_controller_condition_info{} {v}",
                labels(&l)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_http_requests_total Total number of HTTP requests by path, code and method"
        );
        let _ = writeln!(
            out,
            "# TYPE sealed_secrets_controller_http_requests_total counter"
        );
        for ((path, code, method), n) in &m.http_requests {
            let l = vec![
                ("code", code.clone()),
                ("method", method.clone()),
                ("path", path.clone()),
            ];
            let _ = writeln!(
                out,
                "sealed_secrets_controller_http_requests_total{} {n}",
                labels(&l)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sealed_secrets_controller_http_request_duration_seconds HTTP request duration distribution"
        );
        let _ = writeln!(
            out,
            "# TYPE sealed_secrets_controller_http_request_duration_seconds histogram"
        );
        for ((path, method), (buckets, sum, count)) in &m.http_durations {
            let base = vec![("method", method.clone()), ("path", path.clone())];
            for (b, n) in BUCKETS.iter().zip(buckets) {
                let mut l = base.clone();
                l.insert(0, ("le", b.to_string()));
                let _ = writeln!(
                    out,
                    "sealed_secrets_controller_http_request_duration_seconds_bucket{} {n}",
                    labels(&l)
                );
            }
            let mut l = base.clone();
            l.insert(0, ("le", "+Inf".into()));
            let _ = writeln!(
                out,
                "sealed_secrets_controller_http_request_duration_seconds_bucket{} {count}",
                labels(&l)
            );
            let _ = writeln!(
                out,
                "sealed_secrets_controller_http_request_duration_seconds_sum{} {sum}",
                labels(&base)
            );
            let _ = writeln!(
                out,
                "sealed_secrets_controller_http_request_duration_seconds_count{} {count}",
                labels(&base)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_upstream_names() {
        let m = Metrics::default();
        m.unseal_request();
        m.unseal_request();
        m.unseal_error("unseal", "team-a");
        m.condition("team-a", "db", Some(false), "app1");
        m.condition("team-a", "gone", Some(true), "");
        m.forget("team-a", "gone");
        m.http_request("/v1/verify", 409, "POST");
        let text = m.render();
        assert!(text.contains("sealed_secrets_controller_unseal_requests_total 2\n"));
        assert!(text.contains("sealed_secrets_controller_unseal_errors_total{namespace=\"team-a\",reason=\"unseal\"} 1\n"));
        assert!(text.contains("sealed_secrets_controller_condition_info{condition=\"Synced\",name=\"db\",namespace=\"team-a\",ss_app_kubernetes_io_instance=\"app1\"} -1\n"));
        assert!(!text.contains("gone"));
        assert!(text.contains("sealed_secrets_controller_http_requests_total{code=\"409\",method=\"POST\",path=\"/v1/verify\"} 1\n"));
        assert!(text.contains("sealed_secrets_controller_build_info{revision=\"coffer-"));
        m.http_duration("/v1/cert.pem", "GET", 0.02);
        let text = m.render();
        assert!(text.contains("sealed_secrets_controller_http_request_duration_seconds_bucket{le=\"0.01\",method=\"GET\",path=\"/v1/cert.pem\"} 0\n"), "{text}");
        assert!(text.contains("sealed_secrets_controller_http_request_duration_seconds_bucket{le=\"0.025\",method=\"GET\",path=\"/v1/cert.pem\"} 1\n"));
        assert!(text.contains("sealed_secrets_controller_http_request_duration_seconds_bucket{le=\"+Inf\",method=\"GET\",path=\"/v1/cert.pem\"} 1\n"));
        assert!(text.contains("sealed_secrets_controller_http_request_duration_seconds_count{method=\"GET\",path=\"/v1/cert.pem\"} 1\n"));
    }
}
