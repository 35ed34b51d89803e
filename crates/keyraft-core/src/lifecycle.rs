//! The key state × operation matrix, as AWS KMS documents it ("Key states of AWS KMS keys").
//!
//! | state            | crypto ops          | enable/disable      | manage (describe excluded) |
//! |------------------|---------------------|---------------------|----------------------------|
//! | Enabled          | yes                 | yes                 | yes                        |
//! | Disabled         | DisabledException   | yes                 | yes                        |
//! | PendingDeletion  | KMSInvalidState     | KMSInvalidState     | KMSInvalidState            |
//! | PendingImport    | KMSInvalidState     | KMSInvalidState     | yes                        |
//! | others           | KMSInvalidState     | KMSInvalidState     | KMSInvalidState            |

use crate::error::CoreError;
use crate::model::{KeyRecord, KeySpec, KeyState, Origin};

fn invalid(k: &KeyRecord) -> CoreError {
    CoreError::InvalidState { arn: k.arn().to_string(), state: k.state }
}

/// Cryptographic operations (Encrypt, Decrypt, GenerateDataKey, ReEncrypt, …).
pub fn check_crypto(k: &KeyRecord) -> Result<(), CoreError> {
    match k.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(CoreError::Disabled(format!("{} is disabled.", k.arn()))),
        _ => Err(invalid(k)),
    }
}

/// EnableKey and DisableKey.
pub fn check_enable_disable(k: &KeyRecord) -> Result<(), CoreError> {
    match k.state {
        KeyState::Enabled | KeyState::Disabled => Ok(()),
        _ => Err(invalid(k)),
    }
}

/// Management operations that AWS allows on enabled, disabled and pending-import keys:
/// UpdateKeyDescription, ScheduleKeyDeletion, CreateAlias/UpdateAlias, TagResource,
/// UntagResource, PutKeyPolicy.
pub fn check_manage(k: &KeyRecord) -> Result<(), CoreError> {
    match k.state {
        KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport => Ok(()),
        _ => Err(invalid(k)),
    }
}

/// Read-only management (GetKeyPolicy, ListResourceTags, GetKeyRotationStatus, …): allowed in every
/// state except those AWS marks unavailable.
pub fn check_read(k: &KeyRecord) -> Result<(), CoreError> {
    match k.state {
        KeyState::Enabled
        | KeyState::Disabled
        | KeyState::PendingImport
        | KeyState::PendingDeletion
        | KeyState::PendingReplicaDeletion => Ok(()),
        _ => Err(invalid(k)),
    }
}

/// EnableKeyRotation / DisableKeyRotation: symmetric AWS_KMS keys only; a disabled key answers
/// DisabledException.
pub fn check_rotation_change(k: &KeyRecord) -> Result<(), CoreError> {
    if k.spec != KeySpec::SymmetricDefault || k.origin != Origin::AwsKms {
        return Err(CoreError::Unsupported(format!("{} does not support automatic key rotation.", k.arn())));
    }
    check_crypto(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, KeyId, Region};

    fn key(state: KeyState) -> KeyRecord {
        KeyRecord {
            state,
            ..KeyRecord::new(
                KeyId::from_uuid_bytes([7; 16]),
                AccountId::parse("111122223333").unwrap(),
                Region::parse("us-east-1").unwrap(),
            )
        }
    }

    /// The whole matrix, row by row: (state, crypto, enable/disable, manage, read).
    #[test]
    fn matrix() {
        use KeyState::*;
        #[derive(Debug, PartialEq)]
        enum E {
            Ok,
            Disabled,
            Invalid,
        }
        fn e(r: Result<(), CoreError>) -> E {
            match r {
                Ok(()) => E::Ok,
                Err(CoreError::Disabled(_)) => E::Disabled,
                Err(CoreError::InvalidState { .. }) => E::Invalid,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        let rows = [
            (Enabled, E::Ok, E::Ok, E::Ok, E::Ok),
            (Disabled, E::Disabled, E::Ok, E::Ok, E::Ok),
            (PendingDeletion, E::Invalid, E::Invalid, E::Invalid, E::Ok),
            (PendingImport, E::Invalid, E::Invalid, E::Ok, E::Ok),
            (Creating, E::Invalid, E::Invalid, E::Invalid, E::Invalid),
            (Unavailable, E::Invalid, E::Invalid, E::Invalid, E::Invalid),
            (Updating, E::Invalid, E::Invalid, E::Invalid, E::Invalid),
            (PendingReplicaDeletion, E::Invalid, E::Invalid, E::Invalid, E::Ok),
        ];
        for (state, crypto, endis, manage, read) in rows {
            let k = key(state);
            assert_eq!(e(check_crypto(&k)), crypto, "{state} crypto");
            assert_eq!(e(check_enable_disable(&k)), endis, "{state} enable/disable");
            assert_eq!(e(check_manage(&k)), manage, "{state} manage");
            assert_eq!(e(check_read(&k)), read, "{state} read");
        }
        assert_eq!(
            check_crypto(&key(PendingDeletion)).unwrap_err().to_string(),
            "arn:aws:kms:us-east-1:111122223333:key/07070707-0707-4707-8707-070707070707 is pending deletion."
        );
    }
}
