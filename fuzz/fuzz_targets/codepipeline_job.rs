//! libFuzzer entry point for [`pipeline_fuzz::codepipeline_job`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::codepipeline_job(data));
