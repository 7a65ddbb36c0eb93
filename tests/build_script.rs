//! `build.sh` on a machine that lacks programs: it names each missing one and stops before any
//! work starts, instead of ending with a bare exit status 127 halfway through a build.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where `program` is on this machine's PATH.
fn find(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{program} is not on this machine's PATH"))
}

/// Runs `bash build.sh COMMAND` with a PATH that holds only `programs`.
fn build_sh_with_only(programs: &[&str], command: &str) -> Output {
    let bin = tempfile::tempdir().unwrap();
    for program in programs.iter().chain(&["bash"]) {
        std::os::unix::fs::symlink(find(program), bin.path().join(program)).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new(find("bash"))
        .arg(root.join("build.sh"))
        .arg(command)
        .env_clear()
        .env("PATH", bin.path())
        .env("HOME", std::env::var_os("HOME").unwrap())
        .output()
        .expect("bash runs")
}

/// What coreutils, sed and gzip bring, which every command of build.sh uses.
const BASICS: &[&str] = &[
    "dirname",
    "sed",
    "cp",
    "rm",
    "mkdir",
    "mktemp",
    "id",
    "stat",
    "gzip",
    "wc",
    "sha256sum",
    "cut",
];

fn fails_naming(output: &Output, programs: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("missing programs"), "stderr: {stderr}");
    for program in programs {
        assert!(
            stderr.contains(&format!("\n  {program}: ")),
            "{program} not named in: {stderr}"
        );
    }
}

#[test]
fn without_cargo_every_command_names_it() {
    for command in ["cli", "tools", "encoder", "web", "serve", "test"] {
        let output = build_sh_with_only(&["dirname", "sed"], command);
        fails_naming(&output, &["cargo"]);
        assert!(output.stdout.is_empty(), "{command} started some work");
    }
}

#[test]
fn missing_programs_are_named_before_any_install_or_build() {
    let mut programs = BASICS.to_vec();
    programs.extend(["cargo", "rustup", "python3"]);
    // No Node.js: the page's test needs it, so `test` must say so before its long installs.
    let output = build_sh_with_only(&programs, "test");
    fails_naming(&output, &["node", "npm"]);
    assert!(output.stdout.is_empty(), "test started some work");

    // No Python: `serve` needs it only at the end, to serve the page, but names it first.
    let mut programs = BASICS.to_vec();
    programs.extend(["cargo", "rustup", "node", "npm"]);
    let output = build_sh_with_only(&programs, "serve");
    fails_naming(&output, &["python3"]);
    assert!(output.stdout.is_empty(), "serve started some work");
}
