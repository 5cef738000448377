//! The AWS handle of a build without the SDK (no `aws` feature): the in-VPC functions call no
//! AWS API, so they link none of it. The types keep the signatures of [`crate::aws`] so callers
//! compile either way; nothing here can ever hold a configuration.

/// The process's AWS handle in a build without the SDK: it has nothing to load.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aws;

impl Aws {
    /// The handle; there is nothing to load, now or later.
    pub fn lazy() -> Self {
        Self
    }

    /// Always false: this build cannot load an SDK configuration.
    pub fn is_loaded(&self) -> bool {
        false
    }
}

/// Stands in for the SDK's configuration: uninhabited, so an `Option<&SdkConfig>` is always
/// `None` in this build.
#[derive(Debug, Clone, Copy)]
pub enum SdkConfig {}
