//! `choir config`: the settings in force, where they come from, and what is wrong there.

use serde_json::Value;

use super::print_line;
use choir_client::connect::{ConnectError, DaemonHttp};

/// Prints the settings the daemon uses, as TOML (or the daemon's answer as JSON), after
/// having it read the file again when `reload`. A problem with the file is said on stderr
/// too; the settings printed are those in force (the defaults where the file was wrong).
pub async fn config(daemon: &DaemonHttp, reload: bool, json: bool) -> Result<(), ConnectError> {
    let answer = if reload {
        let path = "/api/settings/reload";
        let (status, body) = daemon.post(path, &Value::Null).await?;
        if !(200..300).contains(&status) {
            let message = body["message"].as_str().unwrap_or_default().to_owned();
            return Err(ConnectError::Failed {
                url: format!("{}{path}", daemon.endpoint().url),
                status,
                body: message,
            });
        }
        body
    } else {
        daemon.get("/api/settings").await?
    };
    let mut out = std::io::stdout().lock();
    if json {
        print_line(
            &mut out,
            &serde_json::to_string_pretty(&answer).unwrap_or_default(),
        );
        return Ok(());
    }
    let source = match answer["path"].as_str() {
        Some(path) => format!("# from {path}"),
        None => "# no settings file: the defaults".to_owned(),
    };
    print_line(&mut out, &source);
    if let Some(problem) = answer["problem"].as_str() {
        eprintln!("choir config: {problem}");
        print_line(&mut out, &format!("# problem: {problem}"));
    }
    if reload {
        let changed = answer["changed"].as_bool().unwrap_or(false);
        print_line(
            &mut out,
            if changed {
                "# read again: every client takes the new settings now"
            } else {
                "# read again: nothing changed"
            },
        );
    }
    print_line(
        &mut out,
        answer["toml"].as_str().unwrap_or_default().trim_end(),
    );
    Ok(())
}
