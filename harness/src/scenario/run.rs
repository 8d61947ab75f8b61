//! One scenario run: start the server, perform each step, stop it.

use super::clients::{Client, perform};
use crate::limits::seconds;
use crate::tracer::Spec;

use super::outcome::{Limits, Outcome, ScenarioError};
use super::server::Server;
use super::steps::{Scenario, Step};
use crate::findings::Finding;
use crate::launch::{self, Separation};

/// Runs a scenario against `spec`.
pub fn run(spec: &Spec, scenario: &Scenario, limits: &Limits) -> Result<Outcome, ScenarioError> {
    let mut spec = spec.clone();
    spec.args.extend(scenario.args.iter().map(Into::into));
    let mut spec = spec.with_resources(limits.resources.clone());
    spec.sandbox = crate::sandbox::status(limits.sandbox).is_on();
    let mut server = Server::start(&spec, limits)?;
    let mut clients: Vec<Client> = Vec::new();
    let mut steps = Vec::new();
    // How the server ended before the harness signalled it, if it did.
    let mut ended_by_itself = None;
    let mut signalled = false;
    let mut timed_out = false;
    for step in &scenario.steps {
        if server.overdue() {
            timed_out = true;
            break;
        }
        if matches!(step, Step::Terminate(_)) && !signalled {
            ended_by_itself = server.ended;
            signalled = true;
        }
        let observed = perform(&mut server, &mut clients, step, limits);
        steps.push((step.clone(), observed));
    }
    if !signalled {
        ended_by_itself = server.ended;
    }
    // Processes that outlived a program that ended by itself: a daemon
    // (the server's own: a launcher still winding down is not one).
    let separation = launch::separate(&server.trace);
    let left_behind = if ended_by_itself.is_some() && !signalled {
        let mut alive = server.processes_alive();
        if let Separation::Launched(l) = &separation {
            alive.retain(|p| l.tasks.contains_key(p));
        }
        alive
    } else {
        Vec::new()
    };
    if !server.live.is_empty() {
        server.step(if timed_out {
            format!(
                "stop the server (SIGTERM): the scenario's {} are up",
                seconds(limits.time)
            )
        } else {
            "stop the server (SIGTERM)".to_string()
        });
    }
    drop(clients);
    let accounting = server.stop();
    // A tracer that failed (strace output that cannot be decoded) fails the run.
    if let Some(e) = server.failure.take() {
        return Err(e.into());
    }
    // A launched server is graded on its own trace; what the launcher did
    // is named, not judged.
    let mut launched_by = None;
    match &separation {
        Separation::Launched(l) => {
            let (trace, remap) = launch::server_trace(&server.trace, l);
            server.trace = trace;
            steps = steps
                .into_iter()
                .map(|(step, observed)| (step, observed.remapped(&remap, l)))
                .collect();
            launched_by = Some(l.describe());
        }
        Separation::Opaque { .. } | Separation::Whole => {}
    }
    let mut findings = server.findings(&left_behind);
    if let Separation::Opaque { launchers, record } = &separation {
        let rec = &server.trace.records[*record];
        findings.push(Finding::OpaqueLauncher {
            launchers: launchers.join(" → "),
            call: rec.name(),
        });
    }
    if timed_out {
        findings.push(Finding::OutOfTime {
            limit: limits.time,
            done: steps.len(),
            steps: scenario.steps.len(),
        });
    }
    Ok(Outcome {
        scenario: scenario.name,
        steps,
        stdout: server.stdout.text(),
        stderr: server.stderr.text(),
        trace: std::mem::take(&mut server.trace),
        ended_by_itself,
        findings,
        accounting,
        launched_by,
    })
}
