use std::process::Command;

/// man/ and completions/ are committed; this fails when they no longer match the clap
/// definitions (run `make generate`).
#[test]
fn generated_man_page_and_completions_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (what, file) in [
        ("man", "man/devo-aws.1"),
        ("bash", "completions/devo-aws.bash"),
        ("zsh", "completions/_devo-aws"),
        ("fish", "completions/devo-aws.fish"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_devo-aws"))
            .args(["generate", what])
            .output()
            .unwrap();
        assert!(out.status.success());
        let committed = std::fs::read(root.join(file)).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "{file} is stale: run `make generate` and commit it"
        );
    }
}
