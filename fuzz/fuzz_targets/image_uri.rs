//! libFuzzer entry point for [`pipeline_fuzz::image_uri`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pipeline_fuzz::image_uri(data));
