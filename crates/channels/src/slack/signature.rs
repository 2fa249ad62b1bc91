//! Slack's request signing (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256>` over
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`, keyed with the app's signing secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from the server's clock, either way (Slack's and
/// bolt's five minutes). Older requests are replays; much newer ones are forged or a broken
/// clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header that carries the request's Unix time (seconds).
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";

/// Why a request's signature was refused. The messages name the problem, never the secret or
/// the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Slack-Request-Timestamp`.
    #[error("the request has no X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    /// No `X-Slack-Signature`.
    #[error("the request has no X-Slack-Signature header")]
    MissingSignature,
    /// The timestamp is not a number of seconds.
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is too far from now: a replayed (or forged) request.
    #[error(
        "the request timestamp is more than 5 minutes away from the server's clock \
         (a replayed request, or a clock out of sync)"
    )]
    Expired,
    /// Not a `v0=<hex>` signature.
    #[error("X-Slack-Signature is not a v0 signature (`v0=` followed by hex)")]
    Malformed,
    /// The signature does not match the body and the signing secret.
    #[error("X-Slack-Signature does not match the request")]
    Mismatch,
}

/// Checks a request's signature against `secret`, over the exact `body` bytes, at Unix time
/// `now` (seconds). The comparison takes the same time wherever the signatures differ.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let signature = signature.ok_or(SignatureError::MissingSignature)?;
    let seconds: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now.abs_diff(seconds) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(SignatureError::Expired);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(|digits| hex::decode(digits).ok())
        .ok_or(SignatureError::Malformed)?;
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` Slack sends for `body` at `timestamp` (what [`verify`] expects).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of Slack's "Verifying requests from Slack" page.
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TIMESTAMP: &str = "1531420618";
    const DOC_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow\
        &channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner\
        &command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands\
        %2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN\
        &trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const DOC_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const DOC_NOW: i64 = 1_531_420_618 + 60;

    fn check(
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        verify(DOC_SECRET, timestamp, signature, body.as_bytes(), now)
    }

    #[test]
    fn slacks_worked_example_signs_and_verifies() {
        assert_eq!(
            sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY.as_bytes()),
            DOC_SIGNATURE
        );
        assert_eq!(
            check(Some(DOC_TIMESTAMP), Some(DOC_SIGNATURE), DOC_BODY, DOC_NOW),
            Ok(())
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_reason() {
        let ts = Some(DOC_TIMESTAMP);
        let sig = Some(DOC_SIGNATURE);
        let cases = [
            (
                None,
                sig,
                DOC_BODY,
                DOC_NOW,
                SignatureError::MissingTimestamp,
            ),
            (
                ts,
                None,
                DOC_BODY,
                DOC_NOW,
                SignatureError::MissingSignature,
            ),
            (
                Some("soon"),
                sig,
                DOC_BODY,
                DOC_NOW,
                SignatureError::BadTimestamp,
            ),
            (ts, sig, DOC_BODY, DOC_NOW + 300, SignatureError::Expired),
            (ts, sig, DOC_BODY, DOC_NOW - 600, SignatureError::Expired),
            (
                ts,
                Some("v1=a2114d57"),
                DOC_BODY,
                DOC_NOW,
                SignatureError::Malformed,
            ),
            (
                ts,
                Some("v0=not-hex"),
                DOC_BODY,
                DOC_NOW,
                SignatureError::Malformed,
            ),
            (
                ts,
                Some("v0=a2114d57"),
                DOC_BODY,
                DOC_NOW,
                SignatureError::Mismatch,
            ),
            (
                ts,
                sig,
                "token=xyzz0WbapA4vBCDEFasx0q6G",
                DOC_NOW,
                SignatureError::Mismatch,
            ),
            (
                Some("1531420619"),
                sig,
                DOC_BODY,
                DOC_NOW,
                SignatureError::Mismatch,
            ),
        ];
        for (timestamp, signature, body, now, expected) in cases {
            assert_eq!(
                check(timestamp, signature, body, now),
                Err(expected.clone()),
                "{timestamp:?} {signature:?} at {now}"
            );
        }
        let other_secret = verify("another secret", ts, sig, DOC_BODY.as_bytes(), DOC_NOW);
        assert_eq!(other_secret, Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        let at = |now: i64| {
            let body = "x=1";
            let signature = sign(DOC_SECRET, DOC_TIMESTAMP, body.as_bytes());
            check(Some(DOC_TIMESTAMP), Some(&signature), body, now)
        };
        let sent = 1_531_420_618;
        assert_eq!(at(sent + 300), Ok(()));
        assert_eq!(at(sent - 300), Ok(()));
        assert_eq!(at(sent + 301), Err(SignatureError::Expired));
        assert_eq!(at(sent - 301), Err(SignatureError::Expired));
    }
}
