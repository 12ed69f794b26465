//! The README's `curl` examples, run as written against a running server (with its address
//! and the tokens and return ids they name), so that what a newcomer copies works.

use london_vision::values::Role;
use serde_json::Value;

use crate::{
    helpers::spawn_app,
    returns::{input, submit, value},
};

/// The `curl` commands of the README's `sh` blocks, with their continuation lines and the
/// lines of a quoted text that spans several.
fn curl_examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut current = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if !current.is_empty() || line.starts_with("curl ") {
            current.push_str(line.trim_end_matches('\\'));
            current.push(if line.ends_with('\\') { ' ' } else { '\n' });
            // A command ends at a line that neither continues nor leaves a quote open.
            let open_quote = current.matches('\'').count() % 2 == 1;
            if !line.ends_with('\\') && !open_quote {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

// Two workers: the examples block one while the server answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_curl_examples_work_as_written() {
    let app = spawn_app().await;
    let dir = app.config.data_dir.join("readme");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("camden.token"), app.token("camden", &[Role::Submitter])).expect("token");
    std::fs::write(dir.join("ncl.token"), app.token("north-central-london-ics", &[Role::Approver])).expect("token");
    let camden = app.token_for("camden", "analyst@camden", &[Role::Submitter]);
    let mut ids = Vec::new();
    for period in ["2021/22", "2022/23"] {
        let sent =
            submit(&app, &camden, input("camden", vec![value("school-readiness", "E09000007", period, 66.0)])).await;
        ids.push(sent["return"]["id"].as_str().expect("an id").to_owned());
    }
    let examples = curl_examples();
    assert!(examples.len() >= 6, "the README's curl examples: {examples:#?}");
    for example in examples {
        let command = example
            .replace("http://127.0.0.1:8080", &app.address)
            .replace("<a return id>", &ids[0])
            .replace("<another return id>", &ids[1]);
        let out = std::process::Command::new("sh").arg("-c").arg(&command).current_dir(&dir).output().expect("sh runs");
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        let body: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        assert!(body.get("errors").is_none(), "{command}: {body}");
        let text = body.to_string();
        assert!(!text.contains("\"userErrors\":[{"), "{command}: {body}");
        if command.contains("approveReturn") {
            assert!(text.contains("APPROVED"), "{body}");
        }
        if command.contains("rejectReturn") {
            assert!(text.contains("REJECTED"), "{body}");
        }
    }
}
