//! Errors shared across modules: a failed call to another service (an AWS API), kept whole as
//! the source so a caller or a log can follow the chain to the SDK's own error.

/// A call to another service that failed. Its message is the whole context the SDK knows (an
/// SDK error's own message says only "service error"); the SDK's error is kept as the source.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct CallError {
    context: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl CallError {
    /// Wraps an AWS SDK error (or any error the SDK's context printer understands).
    #[cfg(feature = "aws")]
    pub fn from_sdk(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            context: aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
            source: Box::new(error),
        }
    }
}
