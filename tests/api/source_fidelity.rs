//! The reference data is faithful to its source: every ambition, commitment, challenge,
//! priority title and measure name the API serves stands word for word in the strategy
//! (`../shared/seeds/002_*.txt`, or the file `LONDON_VISION_STRATEGY` names).

use std::path::PathBuf;

use serde_json::json;

use crate::helpers::spawn_app;

/// The strategy's text: from `LONDON_VISION_STRATEGY` (which must then exist; `.ci/run` sets
/// it, so CI always checks), or from `../shared/seeds/` beside the repository. A clone with
/// neither has nothing to check against, and says so.
fn strategy_text() -> Option<String> {
    if let Some(path) = std::env::var_os("LONDON_VISION_STRATEGY").map(PathBuf::from) {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("LONDON_VISION_STRATEGY names {}, which cannot be read: {e}", path.display()));
        return Some(text);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds/002_89a8fc6ec45d7e03.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            eprintln!("not checked against the strategy: {} ({e}); set LONDON_VISION_STRATEGY", path.display());
            None
        }
    }
}

/// The PDF's text breaks lines anywhere, hyphenated words included: compare with all white
/// space folded to one space and none after a hyphen.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace("- ", "-")
}

#[tokio::test]
async fn ambitions_commitments_and_measure_names_are_word_for_word_from_the_strategy() {
    let Some(text) = strategy_text() else { return };
    let source = normalise(&text);
    let app = spawn_app().await;
    let data = app
        .data(
            "{ priorities { nodes { slug title ambition challenge commitments { statement } } } measures { nodes { slug name } } }",
            json!({}),
        )
        .await;
    let mut checked = 0;
    let mut check = |what: &str, text: &str| {
        assert!(source.contains(&normalise(text)), "{what} is not word for word from the strategy: {text:?}");
        checked += 1;
    };
    for p in data["priorities"]["nodes"].as_array().expect("list") {
        let slug = p["slug"].as_str().expect("slug");
        check(&format!("{slug} title"), p["title"].as_str().expect("title"));
        check(&format!("{slug} ambition"), &format!("Our ambition: {}", p["ambition"].as_str().expect("ambition")));
        check(&format!("{slug} challenge"), p["challenge"].as_str().expect("challenge"));
        for c in p["commitments"].as_array().expect("list") {
            check(
                &format!("{slug} commitment"),
                &format!("Our commitment: {}", c["statement"].as_str().expect("statement")),
            );
        }
    }
    for m in data["measures"]["nodes"].as_array().expect("list") {
        check(m["slug"].as_str().expect("slug"), m["name"].as_str().expect("name"));
    }
    assert_eq!(checked, 10 * 4 + 43);
}
