//! libFuzzer entry point for [`pipeline_fuzz::pipeline_event`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::pipeline_event(data));
