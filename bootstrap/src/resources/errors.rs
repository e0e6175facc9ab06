//! "No such resource" and "the name is taken", asked of an SDK error by its modeled type.
//!
//! Each SDK models these per operation (`DescribeRepositoriesError::RepositoryNotFoundException`,
//! `CreateRoleError::EntityAlreadyExistsException`, ...). A resource module declares, with
//! [`variants!`], which variant answers the question for each operation it calls; [`not_found`],
//! [`already_exists`], [`absent_as_none`] and [`gone_is_done`] then ask it by name. Where AWS
//! models no type at all (S3's "setting not configured" answers, an emulator's DeletePipeline),
//! the caller matches `.code()` and says so next to it.

use anyhow::Result;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;

/// An operation's error that can say "what the call names does not exist".
pub trait NotFound {
    fn answers(&self) -> bool;
}

/// An operation's error that can say "a resource of that name exists already".
pub trait AlreadyExists {
    fn answers(&self) -> bool;
}

/// Declares, for each listed operation error, the modeled variant that answers `$question`
/// ([`NotFound`] or [`AlreadyExists`]), e.g.
/// `variants!(NotFound: GetRoleError => is_no_such_entity_exception)`.
macro_rules! variants {
    ($question:ident: $($error:ty => $variant:ident),* $(,)?) => {$(
        impl $crate::resources::errors::$question for $error {
            fn answers(&self) -> bool {
                self.$variant()
            }
        }
    )*};
}
pub(crate) use variants;

/// The call failed because what it names does not exist.
pub fn not_found<E: NotFound, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(NotFound::answers)
}

/// The create call failed because a resource of that name exists already.
pub fn already_exists<E: AlreadyExists, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(AlreadyExists::answers)
}

/// The SDK error of operation `E` somewhere in an `anyhow::Error`'s chain of causes.
fn sdk_error_in<E>(err: &anyhow::Error) -> Option<&SdkError<E, Response>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    err.chain()
        .find_map(|cause| cause.downcast_ref::<SdkError<E, Response>>())
}

/// [`not_found`] for an SDK error of operation `E` carried in an `anyhow::Error` (what a
/// paginated read returns, with its context).
pub fn not_found_in<E>(err: &anyhow::Error) -> bool
where
    E: NotFound + std::error::Error + Send + Sync + 'static,
{
    sdk_error_in::<E>(err).is_some_and(not_found)
}

/// [`already_exists`] for an SDK error of operation `E` carried in an `anyhow::Error` (what the
/// IAM-propagation retry returns).
pub fn already_exists_in<E>(err: &anyhow::Error) -> bool
where
    E: AlreadyExists + std::error::Error + Send + Sync + 'static,
{
    sdk_error_in::<E>(err).is_some_and(already_exists)
}

/// `Ok(None)` when the call failed because what it names does not exist; other errors pass
/// through.
pub fn absent_as_none<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<Option<T>>
where
    E: NotFound + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if not_found(&err) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// A delete (or any removal) whose target is already gone is done: every delete is idempotent.
pub fn gone_is_done<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<()>
where
    E: NotFound + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    absent_as_none(result).map(drop)
}
