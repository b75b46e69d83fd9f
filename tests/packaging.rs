//! The man page and the shell completions in `contrib/` are generated from the one flag table
//! (`evserve::config::FLAGS`), so they cannot drift from `--help`. This test renders them and
//! fails when a checked-in file differs; `EVSERVE_REGENERATE=1 cargo test --test packaging`
//! writes them anew. Where the real tools are installed (groff, bash, zsh, fish) it also checks
//! that they accept the files.
use std::path::PathBuf;
use std::process::Command;

use evserve::config::{Action, CONFIG_FILE_HELP, FLAGS, Flag, ROOT_ENV, SIGNALS, Section, config_keys, env_name};

/// The exit statuses main.rs uses, for the man page.
const EXIT_STATUSES: &[(u8, &str)] = &[
    (0, "stopped after a graceful drain, or --help/--version"),
    (1, "the event loop failed at run time"),
    (2, "a bad flag, value or EVSERVE_ variable, or a config file that is missing or wrong"),
    (3, "the root folder is missing or not a folder"),
    (4, "an address is already in use"),
    (5, "permission denied (a port below 1024 without privileges)"),
    (6, "another listen error, such as an address that is not local"),
    (7, "the access log cannot be opened"),
    (8, "--user: the user or group is unknown, or switching to it failed"),
    (9, "--tls-cert/--tls-key: a file is missing or unusable, or the key does not match"),
];

fn one_line(help: &str) -> String {
    help.lines().collect::<Vec<_>>().join(" ")
}

fn default_of(flag: &Flag) -> Option<&'static str> {
    flag.default.or(flag.default_text)
}

/// Roff needs backslashes doubled and a leading dot or quote escaped.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') { format!("\\&{text}") } else { text }
}

fn man_page() -> String {
    let mut out = String::new();
    out.push_str(".\\\" Generated from src/config.rs by tests/packaging.rs; do not edit.\n");
    out.push_str(".TH EVSERVE 1 \"\" \"evserve\" \"User Commands\"\n");
    out.push_str(".SH NAME\nevserve \\- a static\\-file HTTP/1.1 server on one non\\-blocking event loop\n");
    out.push_str(".SH SYNOPSIS\n.B evserve\n[\\fIROOT\\fR] [\\fIOPTIONS\\fR]\n");
    out.push_str(
        ".SH DESCRIPTION\n\
         evserve serves the folder \\fIROOT\\fR (default \\fBhtdocs\\fR) over HTTP/1.0 and HTTP/1.1 \
         from one single\\-threaded \\fBepoll\\fR(7) loop per worker: keep\\-alive, pipelining, \
         conditional and range requests, pre\\-compressed sidecars and folder listings, with \
         strict request framing and bounded memory per connection.\n",
    );
    for section in Section::ALL {
        out.push_str(&format!(".SH {}\n", section.title().to_uppercase()));
        for flag in FLAGS.iter().filter(|f| f.section == section) {
            out.push_str(".TP\n");
            let short = flag.short.map(|c| format!("\\fB\\-{c}\\fR, ")).unwrap_or_default();
            let value = flag.value.map(|v| format!(" \\fI{}\\fR", roff(v))).unwrap_or_default();
            out.push_str(&format!("{short}\\fB\\-\\-{}\\fR{value}\n", roff(flag.long)));
            out.push_str(&roff(&one_line(flag.help)));
            if let Some(default) = default_of(flag) {
                out.push_str(&format!(" [default: {}]", roff(default)));
            }
            out.push('\n');
        }
    }
    out.push_str(".SH CONFIG FILE\n");
    // `--help`'s text: its indented lines are the example, kept as they are.
    const EXAMPLE_INDENT: &str = "      ";
    let mut in_example = false;
    for line in CONFIG_FILE_HELP.lines().filter(|l| !l.trim().is_empty()).skip(1) {
        let example = line.starts_with(EXAMPLE_INDENT);
        if example != in_example {
            out.push_str(if example { ".PP\n.nf\n" } else { ".fi\n.PP\n" });
            in_example = example;
        }
        let text = if example { &line[EXAMPLE_INDENT.len()..] } else { line.trim() };
        out.push_str(&roff(text));
        out.push('\n');
    }
    for (kind, keys) in config_keys() {
        out.push_str(&format!(".TP\n{}\n{}\n", roff(kind), roff(&keys.join(", "))));
    }
    out.push_str(".SH ENVIRONMENT\n");
    out.push_str(&format!(
        "Every flag can also be set as \\fBEVSERVE_\\fIFLAG\\fR (\\fB{}\\fR=30, \\fB{}\\fR=1); \
         the command line wins, and the environment wins over a config file. A switch takes 1, true, yes or on (0, false, no, off or empty: off). \
         \\fB{}\\fR names the folder when no \\fIROOT\\fR is given. \\fBPORT\\fR is used when \
         neither \\fB\\-\\-port\\fR nor \\fBEVSERVE_PORT\\fR is set.\n",
        roff(&env_name(flag("idle-timeout"))),
        roff(&env_name(flag("trace"))),
        roff(ROOT_ENV),
    ));
    out.push_str(".SH SIGNALS\n");
    for (signals, text) in SIGNALS {
        out.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(signals), roff(&one_line(text))));
    }
    out.push_str(".SH EXIT STATUS\n");
    for (code, text) in EXIT_STATUSES {
        out.push_str(&format!(".TP\n{code}\n{}\n", roff(text)));
    }
    out.push_str(".SH SEE ALSO\nThe README and docs/architecture.md in the source tree.\n");
    out
}

fn flag(long: &str) -> &'static Flag {
    FLAGS.iter().find(|f| f.long == long).expect("flag exists")
}

/// Flags whose value is a file or folder, for completion.
fn takes_path(flag: &Flag) -> bool {
    matches!(flag.value, Some("PATH" | "FILE"))
}

fn takes_value(flag: &Flag) -> bool {
    flag.takes_values()
}

fn bash() -> String {
    let all: Vec<String> = FLAGS
        .iter()
        .flat_map(|f| f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}", f.long)]))
        .collect();
    let valued: Vec<String> = FLAGS
        .iter()
        .filter(|f| takes_value(f) && !takes_path(f))
        .flat_map(|f| f.short.map(|c| format!("-{c}")).into_iter().chain([format!("--{}", f.long)]))
        .collect();
    let paths: Vec<String> = FLAGS.iter().filter(|f| takes_path(f)).map(|f| format!("--{}", f.long)).collect();
    format!(
        "# bash completion for evserve; generated from src/config.rs by tests/packaging.rs.\n\
         _evserve() {{\n\
         \x20   local cur prev\n\
         \x20   cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n\
         \x20   prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         \x20   case \"$prev\" in\n\
         \x20       {}) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n\
         \x20       {}) COMPREPLY=(); return ;;\n\
         \x20   esac\n\
         \x20   if [[ \"$cur\" == -* ]]; then\n\
         \x20       COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))\n\
         \x20   else\n\
         \x20       COMPREPLY=($(compgen -d -- \"$cur\"))\n\
         \x20   fi\n\
         }}\n\
         complete -F _evserve evserve\n",
        paths.join("|"),
        valued.join("|"),
        all.join(" "),
    )
}

/// Brackets and colons end a description in zsh's `_arguments` specs.
fn zsh_text(help: &str) -> String {
    one_line(help).replace('\'', "'\\''").replace('[', "(").replace(']', ")").replace(':', "\\:")
}

fn zsh() -> String {
    let mut out =
        String::from("#compdef evserve\n# Generated from src/config.rs by tests/packaging.rs.\n_arguments -s \\\n");
    for f in FLAGS {
        let names = match f.short {
            Some(c) => format!("'(-{c} --{long})'{{-{c},--{long}}}", long = f.long),
            None => format!("--{}", f.long),
        };
        let action = match f.value {
            Some("PATH") => ":path:_files",
            // Two values, two arguments: `GLOB VALUE` -> `:glob: :value:`.
            Some(v) if matches!(f.action, Action::Pair(_)) && v.starts_with("GLOB ") => {
                &format!(":glob: :{}:", zsh_text(&v["GLOB ".len()..]).to_lowercase())
            }
            Some(v) => &format!(":{}:", zsh_text(v).to_lowercase()),
            None => "",
        };
        let spec = format!("[{}]{action}", zsh_text(f.help));
        let repeat = if f.help.contains("repeatable") { "'*'" } else { "" };
        out.push_str(&format!("  {repeat}{names}'{spec}' \\\n"));
    }
    out.push_str("  '1:root folder:_files -/'\n");
    out
}

fn fish() -> String {
    let mut out = String::from("# fish completion for evserve; generated from src/config.rs by tests/packaging.rs.\n");
    out.push_str("complete -c evserve -f -a '(__fish_complete_directories)'\n");
    for f in FLAGS {
        let mut line = String::from("complete -c evserve");
        if let Some(c) = f.short {
            line.push_str(&format!(" -s {c}"));
        }
        line.push_str(&format!(" -l {}", f.long));
        if takes_path(f) {
            line.push_str(" -r -F");
        } else if takes_value(f) {
            line.push_str(" -x");
        }
        line.push_str(&format!(" -d '{}'\n", one_line(f.help).replace('\\', "\\\\").replace('\'', "\\'")));
        out.push_str(&line);
    }
    out
}

fn generated() -> Vec<(PathBuf, String)> {
    let contrib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib");
    vec![
        (contrib.join("evserve.1"), man_page()),
        (contrib.join("completions/evserve.bash"), bash()),
        (contrib.join("completions/_evserve"), zsh()),
        (contrib.join("completions/evserve.fish"), fish()),
    ]
}

#[test]
fn man_page_and_completions_are_current() {
    let regenerate = std::env::var_os("EVSERVE_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (path, text) in generated() {
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(stale.is_empty(), "out of date: {stale:?}; run EVSERVE_REGENERATE=1 cargo test --test packaging");
}

/// Runs a checker if it is installed; returns its stderr on failure.
fn check_with(program: &str, args: &[&str]) -> Option<Result<(), String>> {
    let out = Command::new(program).args(args).output().ok()?;
    Some(if out.status.success() && out.stderr.is_empty() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

#[test]
fn the_real_tools_accept_the_generated_files() {
    let files = generated();
    let path = |i: usize| files[i].0.to_str().unwrap();
    let checks = [
        ("groff", vec!["-man", "-Tutf8", "-ww", "-z", path(0)]),
        ("bash", vec!["-n", path(1)]),
        ("zsh", vec!["-n", path(2)]),
        ("fish", vec!["--no-execute", path(3)]),
    ];
    for (program, args) in checks {
        match check_with(program, &args) {
            None => eprintln!("skipped: {program} is not installed"),
            Some(result) => assert_eq!(result, Ok(()), "{program} {args:?}"),
        }
    }
}

#[test]
fn bash_completion_offers_every_flag() {
    let script = bash();
    for f in FLAGS {
        assert!(script.contains(&format!("--{}", f.long)), "--{}", f.long);
    }
}

/// A scratch folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("evserve-packaging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // verify checks that ExecStart exists and that the Documentation= man page opens.
    let contrib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let scratch = Scratch::new("units");
    let service = std::fs::read_to_string(contrib.join("systemd/evserve.service")).unwrap();
    let service = service.replace("/usr/local/bin/evserve", env!("CARGO_BIN_EXE_evserve"));
    std::fs::write(scratch.0.join("evserve.service"), service).unwrap();
    std::fs::copy(contrib.join("systemd/evserve.socket"), scratch.0.join("evserve.socket")).unwrap();
    std::fs::create_dir_all(scratch.0.join("man/man1")).unwrap();
    std::fs::copy(contrib.join("evserve.1"), scratch.0.join("man/man1/evserve.1")).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(scratch.0.join("evserve.socket"))
        .arg(scratch.0.join("evserve.service"))
        .env("MANPATH", scratch.0.join("man"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

#[test]
fn the_logrotate_snippet_parses() {
    let contrib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let scratch = Scratch::new("logrotate");
    let state = scratch.0.join("state");
    // -d: debug, a dry run that parses the file and reports errors without rotating.
    let Ok(out) =
        Command::new("logrotate").arg("-d").arg("-s").arg(&state).arg(contrib.join("logrotate.conf")).output()
    else {
        eprintln!("skipped: logrotate is not installed");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("error"), "logrotate -d: {stderr}");
}

/// The instructions of a Containerfile as (KEYWORD, arguments): comments dropped,
/// continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(trimmed);
                let (keyword, args) = pending.split_once(char::is_whitespace).unwrap_or((&pending, ""));
                out.push((keyword.to_ascii_uppercase(), args.trim().to_string()));
                pending.clear();
            }
        }
    }
    out
}

/// An exec-form (JSON array) argument list.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not an exec-form JSON array ({e}): {args}"))
}

/// Where the runtime image looks for a command given by name (Debian's default PATH).
const DEFAULT_PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

fn containerfile() -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib/Containerfile");
    instructions(&std::fs::read_to_string(path).unwrap())
}

/// The HEALTHCHECK's command, exec form.
fn healthcheck(steps: &[(String, String)]) -> Vec<String> {
    let (_, args) = steps.iter().rev().find(|(k, _)| k == "HEALTHCHECK").expect("a HEALTHCHECK");
    let (_, command) = args.split_once("CMD ").expect("HEALTHCHECK ... CMD [...]");
    exec_form(command.trim())
}

#[test]
fn the_containerfile_runs_the_built_binary_as_non_root_with_a_health_check() {
    let steps = containerfile();
    let froms: Vec<usize> = steps.iter().enumerate().filter(|(_, (k, _))| k == "FROM").map(|(i, _)| i).collect();
    assert!(froms.len() >= 2, "a build stage and a runtime stage");
    let last = &steps[*froms.last().unwrap()..];
    let image = &last[0].1;
    assert!(image.contains("debian:bookworm-slim") || image.contains("distroless/cc"), "runtime image {image}");
    for (keyword, args) in &steps {
        assert!(!(keyword == "ADD" && args.contains("://")), "ADD of a URL: {args}");
    }
    // Non-root in the image that runs.
    let (_, user) = last.iter().rev().find(|(k, _)| k == "USER").expect("USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(!["root", "0"].contains(&uid), "USER {user}");
    assert_eq!(uid, "65532");
    // The ENTRYPOINT is the binary the runtime stage copied from the build.
    let (_, entrypoint) = last.iter().find(|(k, _)| k == "ENTRYPOINT").expect("ENTRYPOINT");
    let program = exec_form(entrypoint)[0].clone();
    let copied: Vec<String> = last
        .iter()
        .filter(|(k, a)| k == "COPY" && a.starts_with("--from="))
        .filter_map(|(_, a)| a.split_whitespace().last().map(str::to_string))
        .collect();
    let found = copied.iter().any(|dest| {
        let dest = std::path::Path::new(dest);
        match program.starts_with('/') {
            true => dest == std::path::Path::new(&program),
            false => {
                dest.file_name().is_some_and(|n| n == program.as_str())
                    && dest.parent().is_some_and(|d| DEFAULT_PATH.iter().any(|p| d == std::path::Path::new(p)))
            }
        }
    });
    assert!(found, "ENTRYPOINT {program} is none of the binaries copied from the build: {copied:?}");
    // CMD: flags that exist; the port it listens on is the one exposed; the health check
    // asks the admin address it gives.
    let (_, cmd) = last.iter().find(|(k, _)| k == "CMD").expect("CMD");
    let cmd = exec_form(cmd);
    let value_of = |flag: &str| cmd.iter().position(|a| a == flag).and_then(|i| cmd.get(i + 1)).cloned();
    for arg in cmd.iter().filter_map(|a| a.strip_prefix("--")) {
        assert!(FLAGS.iter().any(|f| f.long == arg), "CMD has --{arg}, which is no flag");
    }
    let port = value_of("--port").expect("CMD gives --port");
    let exposed: Vec<&str> = last.iter().filter(|(k, _)| k == "EXPOSE").map(|(_, a)| a.as_str()).collect();
    assert!(exposed.iter().any(|e| e.split('/').next() == Some(port.as_str())), "EXPOSE {exposed:?} vs --port {port}");
    let admin = value_of("--admin").expect("CMD gives --admin");
    let check = healthcheck(&steps).join(" ");
    assert!(check.contains(&format!("/dev/tcp/{}", admin.replace(':', "/"))), "{check} asks {admin}");
    assert!(check.contains("/healthz"), "{check}");
    // Nothing written at run time: the access log goes to stdout.
    assert!(last.iter().any(|(k, a)| k == "ENV" && a == "EVSERVE_ACCESS_LOG=-"), "access log to stdout");
    let ignore = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".dockerignore")).unwrap();
    for excluded in ["target", ".git"] {
        assert!(ignore.lines().any(|l| l.trim() == excluded), ".dockerignore leaves out {excluded}");
    }
    if let Some(result) = check_with("hadolint", &[&format!("{}/contrib/Containerfile", env!("CARGO_MANIFEST_DIR"))]) {
        assert_eq!(result, Ok(()), "hadolint");
    } else {
        eprintln!("skipped: hadolint is not installed");
    }
}

#[test]
fn the_health_check_command_passes_on_200_and_fails_otherwise() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: bash is not installed");
        return;
    }
    let scratch = Scratch::new("healthz");
    // The admin listener's /healthz, and a path it does not serve.
    let mut server = Command::new(env!("CARGO_BIN_EXE_evserve"))
        .args(["--bind", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0"])
        .arg(&scratch.0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stderr.take().unwrap()), &mut first_line).unwrap();
    let addr: std::net::SocketAddr = first_line
        .split("admin http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("did not start: {first_line}"));
    let check = healthcheck(&containerfile());
    let run = |path: &str| {
        let args: Vec<String> = check
            .iter()
            .map(|a| a.replace("127.0.0.1/9090", &format!("{}/{}", addr.ip(), addr.port())).replace("/healthz", path))
            .collect();
        Command::new(&args[0]).args(&args[1..]).status().unwrap().success()
    };
    let results = (run("/healthz"), run("/missing"));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(results, (true, false), "healthy on 200, unhealthy on 404");
}

/// The same three lines twice in a document is a section pasted in twice (an edit's anchor
/// that matched too much has done it, twice): the reader meets two versions of the truth.
#[test]
fn the_documents_never_hold_the_same_lines_twice() {
    for doc in ["README.md", "docs/architecture.md"] {
        let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(doc)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut seen = std::collections::HashMap::new();
        for (i, window) in lines.windows(3).enumerate() {
            // Prose and table rows; not blank lines, fences or short ones that may recur.
            if window.iter().all(|l| l.len() > 20 && !l.starts_with("```"))
                && let Some(first) = seen.insert(window, i + 1)
            {
                panic!("{doc}: lines {} to {} repeat lines {first} to {}", i + 1, i + 3, first + 2);
            }
        }
    }
}
