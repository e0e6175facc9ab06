//! The stage-machinery accessors against a real emulator: each reaches its control route, and
//! what the emulator refuses (an unknown pipeline, token or evaluation, a minute of no length)
//! comes back as an error naming the refusal.

#[test]
fn the_stage_machinery_routes_answer_and_refuse_through_the_accessors() {
    let emulator = testkit::Emulator::start().expect("emulator starts");

    emulator
        .set_pipeline_minute_seconds(0.25)
        .expect("a quarter-second minute is accepted");
    let zero = emulator
        .set_pipeline_minute_seconds(0.0)
        .expect_err("a minute of no length is refused");
    assert!(zero.to_string().contains("400"), "{zero:#}");

    let unknown = emulator
        .stage_result("no-such-pipeline", "e-1", "prod", "Succeeded")
        .expect_err("an unknown pipeline is refused");
    assert!(
        unknown.to_string().contains("PipelineNotFoundException"),
        "{unknown:#}"
    );
    let approval = emulator
        .open_approval("no-such-pipeline", "e-1", "Approve-prod", "Approval")
        .expect_err("no approval opens on an unknown pipeline");
    assert!(
        approval.to_string().contains("PipelineNotFoundException"),
        "{approval:#}"
    );
    let conditions = emulator
        .start_conditions("no-such-pipeline", "e-1", "prod")
        .expect_err("no bake starts on an unknown pipeline");
    assert!(
        conditions.to_string().contains("PipelineNotFoundException"),
        "{conditions:#}"
    );

    let token = emulator
        .approval("00000000-0000-0000-0000-000000000000")
        .expect_err("an unknown token has no record");
    assert!(token.to_string().contains("404"), "{token:#}");
    let evaluation = emulator
        .condition("00000000-0000-0000-0000-000000000000")
        .expect_err("an unknown evaluation has no record");
    assert!(evaluation.to_string().contains("404"), "{evaluation:#}");
}
