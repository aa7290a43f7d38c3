//! `--ssl-mode` and `--ssl-ca` turned into mysql_async's TLS options.

use std::path::Path;

use anyhow::{Context, Result};
use mysql_async::SslOpts;

use super::SslMode;

/// The TLS options for a mode; `None` means plain TCP.
///
/// PREFERRED and REQUIRED encrypt without checking the certificate, as the mysql client does;
/// the session falls back to plain TCP for PREFERRED when the server offers no TLS.
pub(crate) fn ssl_opts(mode: SslMode, ca: Option<&Path>) -> Result<Option<SslOpts>> {
    let roots = match ca {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ssl-ca '{}'", path.display()))?;
            vec![pem.into()]
        }
        None => Vec::new(),
    };
    let custom_roots = !roots.is_empty();
    let opts = SslOpts::default()
        .with_root_certs(roots)
        .with_disable_built_in_roots(custom_roots);
    Ok(match mode {
        SslMode::Disabled => None,
        SslMode::Preferred | SslMode::Required => Some(
            opts.with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        SslMode::VerifyCa => Some(opts.with_danger_skip_domain_validation(true)),
        SslMode::VerifyIdentity => Some(opts),
    })
}
