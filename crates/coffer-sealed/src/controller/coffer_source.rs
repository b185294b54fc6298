//! `--key-source coffer` in the kube-runtime controller: the ring's only key set is the coffer
//! transit key ([`crate::coffer::CofferKeys`]); renewal is a transit rotate on the
//! `--key-renew-period` schedule (measured from the newest version's creation time, so restarts
//! do not reset it) or on SIGUSR1; the versions are re-read every [`REFRESH`] so a rotation made
//! directly in coffer is picked up. No key Secrets are read or written.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::runtime::RunError;
use crate::coffer::{CofferKeyConfig, CofferKeys};
use crate::keyring::KeyRing;

/// How often the transit key's versions are re-read.
pub const REFRESH: Duration = Duration::from_secs(300);

/// Connects to coffer (on the blocking pool) and returns the key set and a ring holding it.
pub async fn start(cfg: CofferKeyConfig) -> Result<(Arc<CofferKeys>, KeyRing), RunError> {
    let keys = tokio::task::spawn_blocking(move || CofferKeys::connect(cfg))
        .await
        .map_err(|e| RunError::Retry(format!("coffer connect task: {e}")))?
        .map_err(|e| RunError::Retry(e.to_string()))?;
    let keys = Arc::new(keys);
    if let Some(cert) = keys.latest_cert_pem() {
        tracing::info!(
            version = keys.latest_version().unwrap_or(0),
            "sealing key held by coffer transit; certificate:\n{cert}"
        );
    }
    Ok((keys.clone(), KeyRing::with_remote(keys)))
}

/// Rotates on schedule or SIGUSR1 and refreshes the versions every [`REFRESH`].
pub async fn renew_loop(keys: Arc<CofferKeys>, period: Duration) {
    let mut usr1 =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    loop {
        let due = due_in(keys.latest_not_before(), period, OffsetDateTime::now_utc());
        let wait = due.map_or(REFRESH, |d| d.min(REFRESH));
        let signal = async {
            match usr1.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let rotate = tokio::select! {
            _ = tokio::time::sleep(wait) => due.is_some_and(|d| d <= wait),
            _ = signal => {
                tracing::info!("SIGUSR1: rotating the coffer transit key");
                true
            }
        };
        let k = keys.clone();
        let result =
            tokio::task::spawn_blocking(move || if rotate { k.rotate() } else { k.refresh() })
                .await;
        match result {
            Ok(Ok(())) if rotate => tracing::info!(
                version = keys.latest_version().unwrap_or(0),
                "rotated the coffer transit key; certificate:\n{}",
                keys.latest_cert_pem().unwrap_or_default()
            ),
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, rotate, "coffer key refresh failed; retrying in 1m");
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Err(e) => tracing::error!(error = %e, "coffer key task failed"),
        }
    }
}

/// Delay until the next rotation: `period − age(newest version)`, clamped at zero; `None` when
/// renewal is disabled (period 0) or the creation time is unknown.
pub fn due_in(
    newest: Option<OffsetDateTime>,
    period: Duration,
    now: OffsetDateTime,
) -> Option<Duration> {
    if period.is_zero() {
        return None;
    }
    let age = now - newest?;
    let left = time::Duration::try_from(period).unwrap_or(time::Duration::MAX) - age;
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_schedule() {
        let now = OffsetDateTime::now_utc();
        let day = Duration::from_secs(86_400);
        assert_eq!(due_in(Some(now), Duration::ZERO, now), None);
        assert_eq!(due_in(None, day, now), None);
        assert_eq!(
            due_in(Some(now - time::Duration::days(2)), day, now),
            Some(Duration::ZERO)
        );
        let left = due_in(Some(now - time::Duration::hours(6)), day, now).unwrap();
        assert_eq!(left, Duration::from_secs(18 * 3600));
    }
}
