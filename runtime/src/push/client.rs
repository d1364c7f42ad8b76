//! Sends one encoded `PushRequest`: ureq (blocking, rustls, no OpenSSL) on the push
//! thread. Chosen over hyper's client because the push thread is an ordinary
//! thread with nothing else to do, so a blocking client needs no runtime, and ureq
//! brings TLS (rustls + webpki roots) in one well-kept crate.

use std::time::Duration;

use super::config::{PushAuth, PushConfig};

/// Longest error body kept for `last_error`.
const ERROR_BODY_LIMIT: u64 = 512;

/// What one send came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 2xx.
    Accepted,
    /// Worth trying again later: transport errors, 408, 429 and 5xx.
    Retry(String),
    /// Trying again will not help (400, 401, 403, 404, 413, ...): the batch is dropped.
    Rejected(String),
}

pub(crate) struct Client {
    agent: ureq::Agent,
    endpoint: String,
    authorization: Option<String>,
    tenant: Option<String>,
}

impl Client {
    pub(crate) fn new(config: &PushConfig) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            // Credentials must not follow a redirect to another host.
            .max_redirects(0)
            .user_agent(concat!("profiled/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let authorization = match &config.auth {
            PushAuth::None => None,
            PushAuth::Bearer(token) => Some(format!("Bearer {token}")),
            PushAuth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64(format!("{user}:{password}").as_bytes())
            )),
        };
        Client {
            agent,
            endpoint: config.endpoint(),
            authorization,
            tenant: config.tenant.clone(),
        }
    }

    pub(crate) fn send(&self, body: &[u8]) -> Outcome {
        let mut request = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", "application/proto")
            .header("Connect-Protocol-Version", "1");
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(tenant) = &self.tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(e) => return Outcome::Retry(format!("push to {} failed: {e}", self.endpoint)),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Outcome::Accepted;
        }
        let detail = response
            .body_mut()
            .with_config()
            .limit(ERROR_BODY_LIMIT)
            .read_to_string()
            .unwrap_or_default();
        let message = format!(
            "push to {} answered {status}: {}",
            self.endpoint,
            detail.trim().chars().take(200).collect::<String>()
        );
        if status == 408 || status == 429 || status >= 500 {
            Outcome::Retry(message)
        } else {
            Outcome::Rejected(message)
        }
    }
}

/// Exponential backoff: 1 s, 2 s, 4 s, ... capped at `cap`.
pub(crate) fn backoff(failures: u32, cap: Duration) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(16)).min(cap)
}

/// Standard base64 with padding (RFC 4648), for basic auth.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(b"alice:pa:ss"), "YWxpY2U6cGE6c3M=");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(60);
        let secs: Vec<u64> = (1..=9).map(|f| backoff(f, cap).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(u32::MAX, cap), cap);
    }
}
