//! One module per KMS operation; each adds methods to [`crate::Kms`].

pub mod asymmetric;
pub mod asymmetric_encrypt;
pub mod cancel_key_deletion;
pub mod create_alias;
pub mod create_grant;
pub mod create_key;
pub mod decapsulate;
pub mod decrypt;
pub mod delete_alias;
pub mod delete_imported_key_material;
pub mod derive_shared_secret;
pub mod describe_key;
pub mod disable_key;
pub mod disable_key_rotation;
pub mod enable_key;
pub mod enable_key_rotation;
pub mod encapsulate;
pub mod encrypt;
pub mod force_promote;
pub mod generate_data_key;
pub mod generate_data_key_pair;
pub mod generate_mac;
pub mod generate_random;
pub mod get_key_last_usage;
pub mod get_key_policy;
pub mod get_key_rotation_status;
pub mod get_parameters_for_import;
pub mod get_public_key;
pub mod import_key_material;
pub mod list_aliases;
pub mod list_grants;
pub mod list_key_policies;
pub mod list_key_rotations;
pub mod list_keys;
pub mod list_resource_tags;
pub mod list_retirable_grants;
pub mod policy;
pub mod put_key_policy;
pub mod re_encrypt;
pub mod replicate_key;
pub mod retire_grant;
pub mod revoke_grant;
pub mod rotate_key_on_demand;
pub mod schedule_key_deletion;
pub mod sign;
pub mod tag_resource;
pub mod tags;
pub mod untag_resource;
pub mod update_alias;
pub mod update_key_description;
pub mod update_primary_region;
pub mod verify;
pub mod verify_mac;

pub use create_grant::{CreateGrantInput, CreateGrantOutput};
pub use create_key::CreateKeyInput;
pub use decrypt::DecryptOutput;
pub use derive_shared_secret::SharedSecretOutput;
pub use encrypt::EncryptOutput;
pub use force_promote::Promotion;
pub use generate_data_key::DataKeyOutput;
pub use generate_data_key_pair::DataKeyPairOutput;
pub use generate_mac::MacOutput;
pub use get_key_last_usage::KeyLastUsageOutput;
pub use get_key_rotation_status::RotationStatus;
pub use get_parameters_for_import::{ImportParameters, WrappingAlgorithm};
pub use get_public_key::PublicKeyOutput;
pub use list_aliases::AliasEntry;
pub use list_key_rotations::RotationEntry;
pub use re_encrypt::ReEncryptOutput;
pub use replicate_key::{ReplicaOutput, ReplicateKeyInput};
pub use sign::SignOutput;

/// A page of a listing: the items and the marker of the next page, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// Splits `items` (sorted by `key`) into the page after `marker`.
pub(crate) fn paginate<T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> String,
    limit: usize,
    marker: Option<&str>,
) -> Page<T> {
    let mut items: Vec<T> = items.filter(|t| marker.is_none_or(|m| key(t).as_str() > m)).collect();
    let next_marker = if items.len() > limit {
        items.truncate(limit);
        items.last().map(&key)
    } else {
        None
    };
    Page { items, next_marker }
}
