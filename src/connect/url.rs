//! `mysql://user:password@host:port/database?ssl-mode=...` URLs (`--url`, `MYTRIAGE_URL`).

use anyhow::{Context, Result, bail};

use super::Layer;
#[cfg(test)]
use super::SslMode;

const SHAPE: &str = "expected mysql://user:password@host:port/database";

/// Parses a connection URL. The error never repeats the password.
pub(crate) fn parse(text: &str) -> Result<Layer> {
    let shown = redact(text);
    let url =
        url::Url::parse(text).with_context(|| format!("malformed URL '{shown}' ({SHAPE})"))?;
    if !matches!(url.scheme(), "mysql" | "mariadb") {
        bail!("URL '{shown}' has scheme '{}', {SHAPE}", url.scheme());
    }
    let mut parts = Layer {
        host: url
            .host_str()
            .filter(|h| !h.is_empty())
            .map(|h| h.trim_matches(['[', ']']).to_owned()),
        port: url.port(),
        user: Some(decode(url.username(), &shown)?).filter(|u| !u.is_empty()),
        password: url.password().map(|p| decode(p, &shown)).transpose()?,
        database: Some(decode(url.path().trim_start_matches('/'), &shown)?)
            .filter(|d| !d.is_empty()),
        ..Layer::default()
    };
    for (key, value) in url.query_pairs() {
        match key.replace('_', "-").to_ascii_lowercase().as_str() {
            "ssl-mode" | "sslmode" => {
                parts.ssl_mode = Some(
                    value
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!("URL '{shown}': {e}"))?,
                )
            }
            "ssl-ca" => parts.ssl_ca = Some(value.into_owned().into()),
            "socket" => parts.socket = Some(value.into_owned()),
            other => bail!(
                "URL '{shown}' has unknown parameter '{other}' (known: ssl-mode, ssl-ca, socket)"
            ),
        }
    }
    Ok(parts)
}

fn decode(text: &str, shown: &str) -> Result<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .with_context(|| format!("URL '{shown}' is not valid UTF-8 once decoded"))
}

/// The URL with its password replaced by `***`, for messages.
pub(crate) fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &text[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let parts = parse("mysql://app:s%40cret@db.example:3307/shop?ssl-mode=required").unwrap();
        assert_eq!(parts.host.as_deref(), Some("db.example"));
        assert_eq!(parts.port, Some(3307));
        assert_eq!(parts.user.as_deref(), Some("app"));
        assert_eq!(parts.password.as_deref(), Some("s@cret"));
        assert_eq!(parts.database.as_deref(), Some("shop"));
        assert_eq!(parts.ssl_mode, Some(SslMode::Required));
    }

    #[test]
    fn minimal_url_leaves_the_rest_unset() {
        let parts = parse("mysql://127.0.0.1").unwrap();
        assert_eq!(parts.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            parts,
            Layer {
                host: Some("127.0.0.1".into()),
                ..Layer::default()
            }
        );
    }

    #[test]
    fn plus_in_password_is_literal() {
        assert_eq!(
            parse("mysql://u:a+b@h").unwrap().password.as_deref(),
            Some("a+b")
        );
    }

    #[test]
    fn ipv6_host() {
        assert_eq!(
            parse("mysql://root@[::1]:3306").unwrap().host.as_deref(),
            Some("::1")
        );
    }

    #[test]
    fn malformed_urls_are_errors_without_the_password() {
        for bad in [
            "mysql://u:topsecret@host:notaport/db",
            "postgres://u:topsecret@host/db",
            "mysql://u:topsecret@host/db?ssl-mode=sometimes",
            "mysql://u:topsecret@host/db?colour=blue",
            "just words",
        ] {
            let message = format!("{:#}", parse(bad).unwrap_err());
            assert!(!message.contains("topsecret"), "{message}");
            assert!(message.contains("URL"), "{message}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("mysql://u:p@h:1/d"), "mysql://u:***@h:1/d");
        assert_eq!(redact("mysql://u@h"), "mysql://u@h");
        assert_eq!(redact("mysql://h:3306"), "mysql://h:3306");
    }
}
