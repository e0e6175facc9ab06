//! libFuzzer entry point for [`pipeline_fuzz::image_artifact`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::image_artifact(data));
