//! What is generated from the code stays in step: man page, completions, the README's exit
//! codes.

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

/// Completion itself, in each shell: after a subcommand, options complete (clap_complete's bash
/// script for a hyphenated binary completed nothing there).
#[test]
fn completion_works_after_a_subcommand_in_bash_zsh_and_fish() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let completions = root.join("completions");
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(devo-aws events --dr); COMP_CWORD=2; _devo__aws devo-aws --dr events; echo \"${{COMPREPLY[*]}}\"",
            completions.join("devo-aws.bash").display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bash.stdout).trim(),
        "--dry-run",
        "bash"
    );

    let fish = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "source {}; complete -C 'devo-aws events --dr'",
            completions.join("devo-aws.fish").display()
        ))
        .output()
        .expect("fish (tests/support/install-peers.sh installs it)");
    assert!(
        String::from_utf8_lossy(&fish.stdout).starts_with("--dry-run"),
        "fish: {}",
        String::from_utf8_lossy(&fish.stdout)
    );

    // zsh completes only in an interactive shell: drive one on a pseudo-terminal.
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        script.path(),
        r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='> '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
sleep 0.5
zpty -w -n z "devo-aws events --dr"$'\t'
sleep 1.5
local out="" chunk
while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out"
zpty -d z
"#,
    )
    .unwrap();
    let zsh = Command::new("zsh")
        .arg("-f")
        .arg(script.path())
        .arg(&completions)
        .output()
        .expect("zsh (tests/support/install-peers.sh installs it)");
    assert!(
        String::from_utf8_lossy(&zsh.stdout).contains("devo-aws events --dry-run"),
        "zsh: {}",
        String::from_utf8_lossy(&zsh.stdout)
    );
}
