//! `choir web`: the URL of the web mirror, opened in a browser when there is one.

use choir_proto::Endpoint;
use thiserror::Error;

use super::print_line;

#[derive(Debug, Error)]
pub enum WebError {
    #[error(
        "this daemon listens on a Unix socket ({0}), which browsers cannot reach: start it with \
         --listen 127.0.0.1:PORT (or reach the sandbox through choir-hypervisor)"
    )]
    UnixSocket(String),
}

/// The page's URL, with the token the page moves into its session storage.
pub fn url(endpoint: &Endpoint) -> Result<String, WebError> {
    if let Some(path) = endpoint.unix_socket() {
        return Err(WebError::UnixSocket(path.to_owned()));
    }
    Ok(format!(
        "{}/?token={}",
        endpoint.http_base(),
        endpoint.token
    ))
}

/// Prints the URL and, unless `print_only`, opens it with `$BROWSER` or `xdg-open` when a
/// display is there. Returns whether a browser was started.
pub fn web(endpoint: &Endpoint, print_only: bool) -> Result<bool, WebError> {
    let url = url(endpoint)?;
    print_line(&mut std::io::stdout().lock(), &url);
    if print_only {
        return Ok(false);
    }
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|browser| !browser.trim().is_empty())
        .or_else(|| has_display.then(|| "xdg-open".to_owned()));
    let Some(browser) = browser else {
        return Ok(false);
    };
    let started = std::process::Command::new(&browser)
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match started {
        Ok(_) => Ok(true),
        Err(err) => {
            tracing::debug!(%err, browser, "cannot start a browser");
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_carries_the_token_and_a_unix_socket_is_refused_with_the_way_out() {
        let tcp = Endpoint {
            url: "http://127.0.0.1:8080/".into(),
            token: "t0k".into(),
            pid: 1,
            viewer: None,
        };
        assert_eq!(
            url(&tcp).ok().as_deref(),
            Some("http://127.0.0.1:8080/?token=t0k")
        );
        let unix = Endpoint {
            url: "unix:/run/x/daemon.sock".into(),
            token: "t0k".into(),
            pid: 1,
            viewer: None,
        };
        let err = url(&unix)
            .err()
            .map(|err| err.to_string())
            .unwrap_or_default();
        assert!(err.contains("--listen 127.0.0.1:PORT"), "{err}");
    }
}
