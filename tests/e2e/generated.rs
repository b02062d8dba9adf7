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

/// The README's exit-code table is the one the code prints (`devo_aws::outcome::EXIT_CODES`).
#[test]
fn readme_exit_codes_match_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = devo_aws::outcome::exit_codes_markdown();
    assert!(
        readme.contains(&table),
        "README.md's exit-code table differs from the code's; it must read:\n{table}"
    );
}
