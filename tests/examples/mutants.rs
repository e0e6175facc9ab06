//! `cargo xtask mutants`: the real rehearsal, once per mutant (one statement or one action
//! removed from one policy), each of which must fail with a denial naming what was removed.
//!
//! usage: mutants [--sample N] [--seed S] [--all] [--list] [ROLE:SID[:ACTION]...]
//! (default: a sample of 5 with seed 0, one of each role's policy). The e2e test covers every mutant by replay in seconds;
//! this proves the replay right on real runs, a minute each.

use anyhow::{Context, Result, bail};
use integration_tests::e2e::engine;
use integration_tests::e2e::grants::{NOT_REHEARSED, NOT_REHEARSED_BY_STANDIN_DOCKER};
use integration_tests::e2e::mutants::{self, Mutant};
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};
use std::time::Instant;

struct Args {
    sample: usize,
    seed: u64,
    all: bool,
    list: bool,
    chosen: Vec<Mutant>,
}

fn parse(args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        sample: 5,
        seed: 0,
        all: false,
        list: false,
        chosen: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sample" => {
                parsed.sample = it
                    .next()
                    .context("--sample needs a number")?
                    .parse()
                    .context("--sample needs a number, e.g. --sample 3")?;
            }
            "--seed" => {
                parsed.seed = it
                    .next()
                    .context("--seed needs a number")?
                    .parse()
                    .context("--seed needs a number, e.g. --seed 7")?;
            }
            "--all" => parsed.all = true,
            "--list" => parsed.list = true,
            flag if flag.starts_with("--") => {
                bail!(
                    "unknown flag {flag}; usage: mutants [--sample N] [--seed S] [--all] [--list] [ROLE:SID[:ACTION]...]"
                )
            }
            mutant => parsed.chosen.push(mutant.parse()?),
        }
    }
    Ok(parsed)
}

/// Whether the rehearsal cannot notice the mutant: every action it removes is a grant
/// `NOT_REHEARSED` lists (or, when the build uses the stand-in `docker`,
/// `NOT_REHEARSED_BY_STANDIN_DOCKER`).
fn not_rehearsed(mutant: &Mutant, removed: &[String], standin_build: bool) -> bool {
    let standin: &[_] = if standin_build {
        NOT_REHEARSED_BY_STANDIN_DOCKER
    } else {
        &[]
    };
    removed.iter().all(|action| {
        NOT_REHEARSED
            .iter()
            .chain(standin)
            .any(|(role, sid, excused, _)| {
                *role == mutant.role && *sid == mutant.sid && (*excused == "*" || excused == action)
            })
    })
}

/// A deterministic pick of `n`, taking each role in turn so a small sample covers every policy
/// (a small linear congruential generator: no dependency for this).
fn sample(pool: Vec<Mutant>, n: usize, seed: u64) -> Vec<Mutant> {
    let mut by_role: Vec<(String, Vec<Mutant>)> = Vec::new();
    for mutant in pool {
        match by_role.iter_mut().find(|(role, _)| *role == mutant.role) {
            Some((_, list)) => list.push(mutant),
            None => by_role.push((mutant.role.clone(), vec![mutant])),
        }
    }
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut picked = Vec::new();
    while picked.len() < n && by_role.iter().any(|(_, list)| !list.is_empty()) {
        for (_, list) in &mut by_role {
            if picked.len() == n || list.is_empty() {
                continue;
            }
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let index = usize::try_from(state >> 33).unwrap_or_default() % list.len();
            picked.push(list.swap_remove(index));
        }
    }
    picked
}

fn main() -> Result<()> {
    let args = parse(&std::env::args().skip(1).collect::<Vec<_>>())?;
    let base = DemoOptions::for_workspace(testkit::target_dir().join("lambda"))?;
    let env = pipeline_common::EnvName::parse(&base.env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let target = bootstrap::aws::Target {
        account_id: testkit::ACCOUNT_ID.to_owned(),
        region: testkit::REGION.to_owned(),
    };
    let policies = mutants::rehearsed_policies(&env, &target);
    let removed = |mutant: &Mutant| {
        policies
            .iter()
            .find(|(role, _)| *role == mutant.role)
            .map(|(_, policy)| mutant.removed_actions(policy))
            .unwrap_or_default()
    };
    let standin_build = engine::machine_lacks().is_some();
    let candidates: Vec<Mutant> = policies
        .iter()
        .flat_map(|(role, policy)| mutants::of_policy(role, policy))
        .filter(|m| !not_rehearsed(m, &removed(m), standin_build))
        .collect();
    if args.list {
        for mutant in &candidates {
            println!("{mutant}");
        }
        return Ok(());
    }
    let chosen = if !args.chosen.is_empty() {
        args.chosen
    } else if args.all {
        candidates
    } else {
        sample(candidates, args.sample, args.seed)
    };
    eprintln!(
        "\n==> {} mutant(s), each a whole rehearsal that must fail with a denial naming what was removed",
        chosen.len()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut survived = Vec::new();
    for mutant in &chosen {
        let removed = removed(mutant);
        if removed.is_empty() {
            bail!(
                "mutant {mutant}: no such statement or action in the rehearsed policies (`mutants --list` shows them)"
            );
        }
        let started = Instant::now();
        let options = DemoOptions {
            narrate: false,
            mutant: Some(mutant.clone()),
            ..base.clone()
        };
        let outcome = runtime.block_on(run_pipeline_demo(&options));
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(_) => {
                println!("SURVIVED {mutant} ({seconds:.0}s): the rehearsal passed without it");
                survived.push(mutant.to_string());
            }
            Err(err) => {
                let text = format!("{err:#}");
                // AWS's message as a caller sees it, or the emulator's denial record
                let names = |action: &String| {
                    text.contains(&format!("not authorized to perform: {action} "))
                        || text.contains(&format!("\"action\":\"{action}\""))
                };
                match removed.iter().find(|action| names(action)) {
                    Some(action) => println!("caught   {mutant} ({seconds:.0}s): denied {action}"),
                    None => {
                        println!(
                            "SURVIVED {mutant} ({seconds:.0}s): the rehearsal failed, but not with a denial of {}:\n{text}",
                            removed.join(" or ")
                        );
                        survived.push(mutant.to_string());
                    }
                }
            }
        }
    }
    if !survived.is_empty() {
        bail!(
            "{} of {} mutant(s) survived: a grant no rehearsed call needs, or a denial that does not name it: {}",
            survived.len(),
            chosen.len(),
            survived.join(", ")
        );
    }
    println!("all {} mutant(s) caught", chosen.len());
    Ok(())
}
