//! testssl.sh against evserve over HTTPS (tests/testssl.sh): no finding of severity
//! MEDIUM or higher beyond those the self-signed test chain causes. A scan takes about a
//! minute, so it runs only when asked: `EVSERVE_TESTSSL=1 cargo test --test testssl`, and
//! only where testssl is installed (Debian's testssl.sh package); otherwise it says why it
//! skipped, so a plain `cargo test` stays fast.
use std::path::Path;
use std::process::Command;

/// Is `name` an executable file in a directory of PATH?
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[test]
fn testssl_finds_nothing_medium_or_worse_but_the_test_chain() {
    if std::env::var("EVSERVE_TESTSSL").as_deref() != Ok("1") {
        eprintln!("skipping: set EVSERVE_TESTSSL=1 to run testssl.sh against evserve (about a minute)");
        return;
    }
    if !on_path("testssl") && !on_path("testssl.sh") {
        eprintln!("skipping: testssl is not installed (apt-get install -y testssl.sh)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testssl.sh");
    let output = Command::new("bash")
        .arg(&script)
        .env("EVSERVE_BIN", env!("CARGO_BIN_EXE_evserve"))
        .output()
        .expect("bash runs tests/testssl.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(output.status.success(), "tests/testssl.sh failed ({}): see the findings above", output.status);
}
