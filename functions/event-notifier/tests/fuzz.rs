//! Property tests: the parser and formatter never panic on arbitrary JSON, and whatever they
//! produce is publishable (valid subject, JSON message with every protocol key, non-empty
//! attributes).

use event_notifier::enrich::{Enrichment, FailedAction};
use event_notifier::event::parse;
use event_notifier::message::{MessageOptions, format};
use event_notifier::text::is_valid_subject;
use proptest::prelude::*;
use serde_json::{Value, json};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Events shaped like CodePipeline's, with arbitrary text (any Unicode, control characters,
/// huge lengths) and arbitrary values in every field.
fn codepipeline_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just("CodePipeline Pipeline Execution State Change"),
            Just("CodePipeline Stage Execution State Change"),
            Just("CodePipeline Action Execution State Change"),
        ],
        "\\PC{0,300}|.{0,20}",
        ".{0,20}",
        prop::option::of(".{0,200}"),
        prop::option::of("\\PC{0,40}"),
        arbitrary_json(),
        arbitrary_json(),
    )
        .prop_map(|(detail_type, pipeline, state, stage, region, trigger, result)| {
            json!({
                "id": "fuzz", "source": "aws.codepipeline", "detail-type": detail_type,
                "time": "2024-05-01T10:05:00Z", "region": region,
                "detail": {"pipeline": pipeline, "state": state, "stage": stage, "action": stage,
                           "execution-id": pipeline, "start-time": "2024-05-01T10:00:00Z",
                           "execution-trigger": trigger, "execution-result": result, "type": trigger}
            })
        })
}

fn assert_publishable(raw: &Value, enrichment: &Enrichment) -> Result<(), TestCaseError> {
    if let Ok(event) = parse(raw) {
        let options = MessageOptions {
            environment: Some("dev".into()),
            chatbot: true,
            fallback_region: None,
        };
        let n = format(&event, enrichment, &options);
        prop_assert!(
            is_valid_subject(&n.subject),
            "invalid subject {:?}",
            n.subject
        );
        let message: Value = serde_json::from_str(&n.message).expect("message is JSON");
        for key in ["default", "email", "https", "sqs"] {
            prop_assert!(message[key].is_string(), "missing {}", key);
        }
        prop_assert!(n.attributes.values().all(|v| !v.trim().is_empty()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_json_never_panics(raw in arbitrary_json()) {
        assert_publishable(&raw, &Enrichment::default())?;
    }

    #[test]
    fn codepipeline_shaped_events_always_yield_a_valid_subject(
        raw in codepipeline_like(),
        stage in "\\PC{0,200}",
        summary in prop::option::of(".{0,3000}"),
    ) {
        let enrichment = Enrichment {
            failed_actions: vec![FailedAction { stage, action: "a".into(), summary, ..FailedAction::default() }],
            unavailable: Some("x".into()),
            ..Enrichment::default()
        };
        assert_publishable(&raw, &Enrichment::default())?;
        assert_publishable(&raw, &enrichment)?;
    }
}
