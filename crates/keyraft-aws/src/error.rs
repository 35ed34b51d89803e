//! `AwsError`: what the client sees, `{"__type": "<Exception>", "message": "…"}` with a status.

use keyraft_service::KmsError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub exception: &'static str,
    pub status: u16,
    pub message: String,
}

impl AwsError {
    pub fn new(exception: &'static str, status: u16, message: impl Into<String>) -> Self {
        AwsError { exception, status, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new("ValidationException", 400, message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        AwsError::new("SerializationException", 400, message)
    }
}

impl From<KmsError> for AwsError {
    fn from(e: KmsError) -> Self {
        let (exception, status) = match &e {
            KmsError::NotFound(_) => ("NotFoundException", 400),
            KmsError::AlreadyExists(_) => ("AlreadyExistsException", 400),
            KmsError::Disabled(_) => ("DisabledException", 400),
            KmsError::InvalidState(_) => ("KMSInvalidStateException", 400),
            KmsError::Validation(_) => ("ValidationException", 400),
            KmsError::InvalidCiphertext(_) => ("InvalidCiphertextException", 400),
            KmsError::IncorrectKey(_) => ("IncorrectKeyException", 400),
            KmsError::InvalidKeyUsage(_) => ("InvalidKeyUsageException", 400),
            KmsError::InvalidSignature(_) => ("KMSInvalidSignatureException", 400),
            KmsError::InvalidMac(_) => ("KMSInvalidMacException", 400),
            KmsError::Unsupported(_) => ("UnsupportedOperationException", 400),
            KmsError::Conflict(_) => ("ConflictException", 400),
            KmsError::LimitExceeded(_) => ("LimitExceededException", 400),
            KmsError::Tag(_) => ("TagException", 400),
            KmsError::InvalidAliasName(_) => ("InvalidAliasNameException", 400),
            KmsError::InvalidMarker(_) => ("InvalidMarkerException", 400),
            KmsError::MalformedPolicy(_) => ("MalformedPolicyDocumentException", 400),
            KmsError::AccessDenied(_) => ("AccessDeniedException", 400),
            KmsError::InvalidGrantToken(_) => ("InvalidGrantTokenException", 400),
            KmsError::InvalidGrantId(_) => ("InvalidGrantIdException", 400),
            KmsError::InvalidArn(_) => ("InvalidArnException", 400),
            KmsError::DependencyTimeout(_) => ("DependencyTimeoutException", 500),
            KmsError::Internal(_) => ("KMSInternalException", 500),
            KmsError::IncorrectKeyMaterial(_) => ("IncorrectKeyMaterialException", 400),
            KmsError::InvalidImportToken(_) => ("InvalidImportTokenException", 400),
            KmsError::ExpiredImportToken(_) => ("ExpiredImportTokenException", 400),
        };
        AwsError::new(exception, status, e.to_string())
    }
}
