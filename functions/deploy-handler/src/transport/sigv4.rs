//! AWS Signature Version 4 for the function's hand-built requests, with the `aws-sigv4` crate
//! (AWS IAM User Guide, "AWS Signature Version 4 for API requests"), in two flavours: the
//! standard one and S3's, the one the artifact read uses (Amazon S3 API Reference, "Signature
//! Calculations for the Authorization Header"): the path signed exactly as sent, encoded once
//! and never normalized, with the payload hash in `x-amz-content-sha256`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};

use super::HttpRequest;

/// Which of SigV4's canonicalisation rules the service expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Every service but S3.
    Standard,
    /// S3: single percent-encoding, no path normalisation, payload hash header.
    S3,
}

/// Where and as whom a request is signed.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    pub region: &'a str,
    /// The signing name (`s3`, `ecs`, `lambda`).
    pub service: &'a str,
    pub flavour: Flavour,
}

/// Adds the signature headers (`authorization`, `x-amz-date`, the session token and, for S3,
/// the payload hash) to `request`, signed over its method, URL, headers and body at `time`.
pub fn sign_request(
    request: &mut HttpRequest,
    credentials: &Credentials,
    scope: Scope<'_>,
    time: SystemTime,
) -> Result<(), String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    if scope.flavour == Flavour::S3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let url = request.uri.to_string();
    let signable = SignableRequest::new(
        request.method.as_str(),
        &url,
        request
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| format!("cannot sign the request for {url}: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into_parts();
    // Header signing adds headers only (query parameters are for presigned URLs).
    let (headers, _query) = instructions.into_parts();
    for header in headers {
        request.headers.retain(|(name, _)| *name != header.name());
        request
            .headers
            .push((header.name(), header.value().to_owned()));
    }
    Ok(())
}
