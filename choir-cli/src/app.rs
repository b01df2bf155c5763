//! `choir app`: the apps the user or the agent writes. `new` makes a crate in the
//! workspace's `apps/NAME/` whose view shows its name, `build` builds and installs it (its
//! open windows then run the new version, their state kept), `open` shows it in a window,
//! `list` and `remove`. The daemon does the work, so the agent's tools and this agree.

use serde_json::{json, Value};
use thiserror::Error;

use super::print_line;
use choir_client::connect::{ConnectError, DaemonHttp};

#[derive(Debug, Error)]
pub enum AppError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Refused(String),
}

fn refused(body: &Value) -> AppError {
    AppError::Refused(
        body["message"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned),
    )
}

/// An app's name fit for a path segment: the daemon checks it; anything else is refused
/// here before it reaches a URL.
fn segment(name: &str) -> Result<&str, AppError> {
    if choir_proto::apps::valid_app_name(name) {
        Ok(name)
    } else {
        Err(AppError::Refused(format!(
            "`{name}` cannot name an app: 1 to 32 of a-z, 0-9 and -, starting with a letter"
        )))
    }
}

pub async fn new(daemon: &DaemonHttp, name: &str) -> Result<(), AppError> {
    let (status, body) = daemon
        .post(&format!("/api/apps/{}", segment(name)?), &json!({}))
        .await?;
    if !(200..300).contains(&status) {
        return Err(refused(&body));
    }
    let dir = body["dir"].as_str().unwrap_or_default();
    print_line(
        &mut std::io::stdout().lock(),
        &format!("made {name} in {dir}: edit src/lib.rs, then choir app build {name}"),
    );
    Ok(())
}

pub async fn build(daemon: &DaemonHttp, name: &str) -> Result<(), AppError> {
    eprintln!("choir app: building {name} with cargo (offline; the first build of a data dir takes a minute)…");
    let (status, body) = daemon
        .post(&format!("/api/apps/{}/build", segment(name)?), &json!({}))
        .await?;
    if !(200..300).contains(&status) {
        return Err(refused(&body));
    }
    let said = if body["changed"].as_bool() == Some(true) {
        "installed; its open windows run it now"
    } else {
        "unchanged"
    };
    print_line(
        &mut std::io::stdout().lock(),
        &format!(
            "{name} {} ({} bytes, built in {:.1} s): {said}",
            body["version"].as_str().unwrap_or_default(),
            body["bytes"],
            body["build_ms"].as_f64().unwrap_or(0.0) / 1000.0
        ),
    );
    Ok(())
}

pub async fn open(daemon: &DaemonHttp, name: &str) -> Result<(), AppError> {
    let command = json!({ "type": "window.open", "app": format!("app:{}", segment(name)?) });
    let (status, body) = daemon.post("/api/commands", &command).await?;
    if !(200..300).contains(&status) {
        return Err(refused(&body));
    }
    print_line(
        &mut std::io::stdout().lock(),
        &format!("opened {name} in a window (every client shows it)"),
    );
    Ok(())
}

pub async fn list(daemon: &DaemonHttp, as_json: bool) -> Result<(), AppError> {
    let body = daemon.get("/api/apps").await?;
    let mut out = std::io::stdout().lock();
    if as_json {
        print_line(&mut out, &body.to_string());
        return Ok(());
    }
    let installed = body["installed"].as_array().cloned().unwrap_or_default();
    let sources: Vec<String> = body["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    if installed.is_empty() && sources.is_empty() {
        print_line(&mut out, "no apps (choir app new NAME makes one)");
        return Ok(());
    }
    for app in &installed {
        let name = app["name"].as_str().unwrap_or_default();
        let granted: Vec<&str> = app["granted"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let granted = if granted.is_empty() {
            String::new()
        } else {
            format!("  may {}", granted.join(", "))
        };
        let line = format!(
            "{name}  {}  {} bytes{granted}",
            app["version"].as_str().unwrap_or_default(),
            app["bytes"]
        );
        if !print_line(&mut out, &line) {
            return Ok(());
        }
    }
    for name in sources
        .iter()
        .filter(|name| !installed.iter().any(|app| app["name"] == name.as_str()))
    {
        if !print_line(
            &mut out,
            &format!("{name}  not built (choir app build {name})"),
        ) {
            break;
        }
    }
    Ok(())
}

pub async fn remove(daemon: &DaemonHttp, name: &str) -> Result<(), AppError> {
    let (status, body) = daemon
        .delete(&format!("/api/apps/{}", segment(name)?))
        .await?;
    if !(200..300).contains(&status) {
        return Err(refused(&body));
    }
    print_line(
        &mut std::io::stdout().lock(),
        &format!("removed {name} and its data; its crate stays in the workspace"),
    );
    Ok(())
}
