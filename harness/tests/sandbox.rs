//! Gradings in the sandbox: the references still get full marks under
//! both backends, and a program that attacks the harness from inside
//! (`fixtures/attacks/`) cannot write the harness's files, poison the
//! machine's network settings or read its environment's secrets.
//!
//! These tests need what the sandbox needs (root, namespaces, mounts) and
//! fail, saying so, where the machine refuses it.

mod common;

use common::{assert_full_marks, lab, root};
use iolab::grade::grade;
use iolab::sandbox::{Mode, Runs, Status, status};
use iolab::tracer::{Backend, Spec};

fn sandboxed() -> iolab::scenario::Limits {
    let on = status(Mode::Auto);
    assert!(
        matches!(on, Status::On(Runs::As(_))),
        "these tests grade in the sandbox, as a uid of its own: {on}"
    );
    let mut limits = lab("lab1").limits;
    limits.sandbox = Mode::Auto;
    limits
}

#[test]
fn the_reference_gets_full_marks_sandboxed_and_an_attack_from_inside_fails() {
    for backend in Backend::ALL {
        let spec = Spec::new(common::bin("lab1"), Vec::<String>::new()).with_backend(backend);
        let report = grade(&lab("lab1"), &spec, "lab1", &sandboxed()).expect("the harness runs");
        assert!(report.sandbox.is_on(), "{backend}: {}", report.sandbox);
        assert_full_marks(&report);
    }
    // After the gradings above: the secret is set while no other thread of
    // this test binary reads the environment.
    an_attack_from_inside_writes_nothing_and_reads_no_secret();
}

fn an_attack_from_inside_writes_nothing_and_reads_no_secret() {
    let dir = tempfile::tempdir_in(root().join("target")).expect("a directory in target/");
    let forged = dir.path().join("results.json");
    let secret = "s3cret-of-the-autograder";
    // SAFETY: this test binary's only test runs on this thread: nothing
    // else reads the environment meanwhile.
    unsafe { std::env::set_var("AUTOGRADER_SECRET", secret) };
    for backend in Backend::ALL {
        let spec = Spec::new(
            "python3",
            [
                root().join("fixtures/attacks/escape.py").to_str().unwrap(),
                forged.to_str().unwrap(),
            ],
        )
        .with_backend(backend);
        let report =
            grade(&lab("lab1"), &spec, "escape.py", &sandboxed()).expect("the harness runs");
        let text = report.render_styled(iolab::report::Style {
            colour: false,
            public: false,
        });
        assert!(
            !forged.exists(),
            "{backend}: the program wrote {}",
            forged.display()
        );
        assert!(
            !text.contains(secret),
            "{backend}: the secret got out:\n{text}"
        );
        assert!(
            text.contains("secret: None"),
            "{backend}: its stderr is echoed:\n{text}"
        );
        // The forge itself may "succeed": inside, the working directory is
        // a private overlay, and what is written there vanishes with it.
        assert!(!text.contains("sysctl: done"), "{backend}:\n{text}");
    }
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").unwrap();
    assert!(
        !wmem.contains("1073741824"),
        "the machine's tcp_wmem was changed: {wmem}"
    );
}

#[test]
fn a_program_named_by_its_path_in_a_private_home_runs_under_both_backends() {
    // The interpreter itself (a pyenv's, under a 0700 /root where there is
    // one), named by its path: strace, still root but without
    // CAP_DAC_OVERRIDE, must find it through the home's id-mapped mount
    // before it starts it as the program's uid.
    let script = common::python_fixture("lab1_blocking");
    for backend in Backend::ALL {
        let spec = Spec::new(common::python(), ["-B", script.as_str()]).with_backend(backend);
        let report = grade(&lab("lab1"), &spec, "lab1_blocking.py", &sandboxed())
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert!(report.sandbox.is_on(), "{backend}: {}", report.sandbox);
        assert_full_marks(&report);
    }
}
