//! Request quotas: per-account token buckets by AWS's quota families, answered with
//! `ThrottlingException` (HTTP 400) as AWS KMS answers them.
//!
//! AWS counts cryptographic operations in shared families by the key's type (symmetric — which
//! includes HMAC's GenerateMac/VerifyMac and GenerateRandom —, RSA, ECC) and every management
//! operation on its own. The defaults below are AWS's for us-east-1 (see [`QuotaConfig`]).
//!
//! Buckets are kept per node: a region of three nodes lets an account make up to three times a
//! quota per second in total when its requests are spread over the nodes.
//!
//! Each bucket is one `AtomicU64` run as GCRA (the "virtual scheduling" form of a token bucket:
//! the theoretical arrival time of the next request, compared with now plus the burst), so a
//! check is a hash-map read under an uncontended `RwLock` read guard plus one compare-and-swap.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use keyraft_core::{AccountId, KeyRef, KeySpec};
use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::ops::ALL_OPERATIONS;

/// AWS's text for a throttled request.
pub const THROTTLED: &str = "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// The shared quotas of cryptographic operations, by the type of key used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Symmetric encryption keys, HMAC keys and GenerateRandom.
    Symmetric,
    Rsa,
    /// ECC (NIST, secp256k1, Ed25519) and SM2 keys.
    Ecc,
    /// ML-DSA and ML-KEM keys (AWS publishes no default here; keyraft uses the ECC one).
    PostQuantum,
}

const FAMILIES: usize = 4;

/// Whether `op`'s quota is a shared cryptographic family: the cryptographic operations except
/// GenerateDataKeyPair(WithoutPlaintext), which have their own, plus GenerateRandom.
fn shared_family(op: &str) -> bool {
    op == "GenerateRandom"
        || (keyraft_core::usage::CRYPTOGRAPHIC_OPERATIONS.contains(&op) && !op.starts_with("GenerateDataKeyPair"))
}

/// AWS's per-operation request quotas (requests per second). Operations not listed here and not
/// of a [`shared_family`] have no quota unless configured.
pub const DEFAULT_OPERATION_QUOTAS: &[(&str, f64)] = &[
    ("CancelKeyDeletion", 5.0),
    ("ConnectCustomKeyStore", 5.0),
    ("CreateAlias", 5.0),
    ("CreateCustomKeyStore", 5.0),
    ("CreateGrant", 50.0),
    ("CreateKey", 5.0),
    ("DeleteAlias", 5.0),
    ("DeleteCustomKeyStore", 5.0),
    ("DeleteImportedKeyMaterial", 5.0),
    ("DescribeCustomKeyStores", 5.0),
    ("DescribeKey", 100.0),
    ("DisableKey", 5.0),
    ("DisableKeyRotation", 5.0),
    ("DisconnectCustomKeyStore", 5.0),
    ("EnableKey", 5.0),
    ("EnableKeyRotation", 5.0),
    // AWS has one quota per KeyPairSpec (1/s for RSA_2048 … 25/s for ECC_NIST_P256); keyraft
    // keeps one bucket for both operations at the highest of them.
    ("GenerateDataKeyPair", 25.0),
    ("GenerateDataKeyPairWithoutPlaintext", 25.0),
    ("GetKeyPolicy", 30.0),
    ("GetKeyRotationStatus", 30.0),
    ("GetParametersForImport", 0.25),
    ("GetPublicKey", 5.0),
    ("ImportKeyMaterial", 5.0),
    ("ListAliases", 100.0),
    ("ListGrants", 100.0),
    ("ListKeyPolicies", 100.0),
    ("ListKeys", 100.0),
    ("ListResourceTags", 100.0),
    ("ListRetirableGrants", 5.0),
    ("PutKeyPolicy", 5.0),
    ("RetireGrant", 15.0),
    ("RevokeGrant", 15.0),
    ("ScheduleKeyDeletion", 5.0),
    ("TagResource", 5.0),
    ("UntagResource", 5.0),
    ("UpdateAlias", 5.0),
    ("UpdateCustomKeyStore", 5.0),
    ("UpdateKeyDescription", 5.0),
];

/// The `[quotas]` section of a node's config. Rates are requests per second per account (per
/// node); `0` or a negative value removes a quota.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    pub enabled: bool,
    /// Cryptographic operations with symmetric and HMAC keys, and GenerateRandom. AWS: 100,000
    /// in us-east-1, us-west-2 and eu-west-1 (10,000 or 20,000 elsewhere).
    pub symmetric: f64,
    pub rsa: f64,
    pub ecc: f64,
    pub post_quantum: f64,
    /// Per-operation overrides, e.g. `CreateKey = 50`.
    pub operations: BTreeMap<String, f64>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enabled: true,
            symmetric: 100_000.0,
            rsa: 500.0,
            ecc: 300.0,
            post_quantum: 300.0,
            operations: BTreeMap::new(),
        }
    }
}

/// Monotonic nanoseconds; injectable for tests.
pub trait Ticker: Send + Sync {
    fn now_ns(&self) -> u64;
}

/// `Instant`-based [`Ticker`].
pub struct Monotonic(Instant);

impl Default for Monotonic {
    fn default() -> Self {
        Monotonic(Instant::now())
    }
}

impl Ticker for Monotonic {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One bucket's rate: a request every `interval_ns`, bursts up to `burst_ns / interval_ns`.
#[derive(Clone, Copy, Debug)]
struct Limit {
    interval_ns: u64,
    /// How far ahead of now the theoretical arrival time may run: (capacity − 1) intervals.
    tolerance_ns: u64,
}

impl Limit {
    fn per_second(rate: f64) -> Option<Limit> {
        if rate.is_nan() || rate <= 0.0 || rate.is_infinite() {
            return None;
        }
        let interval_ns = (1e9 / rate).max(1.0) as u64;
        // A second's worth of requests at once (at least one), as AWS counts per second.
        let capacity = rate.max(1.0).floor() as u64;
        Some(Limit { interval_ns, tolerance_ns: interval_ns.saturating_mul(capacity - 1) })
    }
}

/// A GCRA token bucket: the theoretical arrival time of the next conforming request.
#[derive(Default)]
struct Bucket {
    tat: AtomicU64,
}

impl Bucket {
    fn take(&self, limit: Limit, now: u64) -> bool {
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now);
            if start - now > limit.tolerance_ns {
                return false;
            }
            match self.tat.compare_exchange_weak(tat, start + limit.interval_ns, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }
}

/// Every account's buckets on this node.
pub struct Quotas {
    /// Slot `i < FAMILIES`: a [`Family`]; slot `FAMILIES + j`: `ALL_OPERATIONS[j]`.
    limits: Vec<Option<Limit>>,
    accounts: RwLock<HashMap<AccountId, Arc<[Bucket]>>>,
    ticker: Arc<dyn Ticker>,
}

impl Quotas {
    pub fn new(config: &QuotaConfig) -> Self {
        Self::with_ticker(config, Arc::new(Monotonic::default()))
    }

    pub fn with_ticker(config: &QuotaConfig, ticker: Arc<dyn Ticker>) -> Self {
        let mut limits = vec![None; FAMILIES + ALL_OPERATIONS.len()];
        for (family, rate) in [
            (Family::Symmetric, config.symmetric),
            (Family::Rsa, config.rsa),
            (Family::Ecc, config.ecc),
            (Family::PostQuantum, config.post_quantum),
        ] {
            limits[family as usize] = Limit::per_second(rate);
        }
        let defaults = DEFAULT_OPERATION_QUOTAS.iter().map(|(op, r)| (*op, *r));
        let overrides = config.operations.iter().map(|(op, r)| (op.as_str(), *r));
        for (op, rate) in defaults.chain(overrides) {
            if let Some(j) = ALL_OPERATIONS.iter().position(|o| *o == op) {
                limits[FAMILIES + j] = Limit::per_second(rate);
            }
        }
        Quotas { limits, accounts: RwLock::new(HashMap::new()), ticker }
    }

    /// Operation names in `config.operations` that are not KMS operations, or are
    /// cryptographic operations (whose quota is their family's).
    pub fn unknown_operations(config: &QuotaConfig) -> Vec<String> {
        config
            .operations
            .keys()
            .filter(|op| !ALL_OPERATIONS.contains(&op.as_str()) || shared_family(op))
            .cloned()
            .collect()
    }

    /// Takes one request of `account` for `operation` or answers `ThrottlingException`. `spec`
    /// tells the type of the key the request names (asked only for cryptographic operations).
    pub fn check(
        &self,
        account: &AccountId,
        operation: &str,
        spec: impl FnOnce() -> Option<KeySpec>,
    ) -> Result<(), AwsError> {
        let slot = if shared_family(operation) {
            family_of(spec()) as usize
        } else {
            match ALL_OPERATIONS.iter().position(|o| *o == operation) {
                Some(j) => FAMILIES + j,
                None => return Ok(()),
            }
        };
        let Some(limit) = self.limits[slot] else { return Ok(()) };
        let now = self.ticker.now_ns();
        let buckets = self.buckets(account);
        if buckets[slot].take(limit, now) {
            Ok(())
        } else {
            Err(AwsError::new("ThrottlingException", 400, THROTTLED))
        }
    }

    fn buckets(&self, account: &AccountId) -> Arc<[Bucket]> {
        if let Some(b) = self.accounts.read().unwrap_or_else(|p| p.into_inner()).get(account) {
            return b.clone();
        }
        let mut w = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        w.entry(account.clone()).or_insert_with(|| (0..self.limits.len()).map(|_| Bucket::default()).collect()).clone()
    }
}

/// The family of a cryptographic operation on a key of type `spec` (symmetric when unknown).
pub fn family_of(spec: Option<KeySpec>) -> Family {
    use KeySpec::*;
    match spec {
        Some(Rsa2048 | Rsa3072 | Rsa4096) => Family::Rsa,
        Some(EccNistP256 | EccNistP384 | EccNistP521 | EccSecgP256k1 | EccNistEdwards25519 | Sm2) => Family::Ecc,
        Some(MlDsa44 | MlDsa65 | MlDsa87 | MlKem512 | MlKem768 | MlKem1024) => Family::PostQuantum,
        Some(SymmetricDefault | Hmac224 | Hmac256 | Hmac384 | Hmac512) | None => Family::Symmetric,
    }
}

/// The spec of the key a request names (`KeyId`, or ReEncrypt's `DestinationKeyId`), read from
/// the node's applied state without a barrier: a quota only needs the key's type.
pub fn key_spec(
    kms: &keyraft_service::Kms,
    account: &AccountId,
    members: &serde_json::Map<String, serde_json::Value>,
) -> Option<KeySpec> {
    let raw = members.get("KeyId").or_else(|| members.get("DestinationKeyId"))?.as_str()?;
    let key = KeyRef::parse(raw).ok()?;
    kms.node().state().read(|s| {
        let id = match &key {
            KeyRef::Id(id) => id,
            KeyRef::Arn(arn) => &arn.key_id,
            KeyRef::Alias(alias) | KeyRef::AliasArn { alias, .. } => s.alias_target(alias)?,
        };
        s.keys.get(id).filter(|k| &k.account == account || matches!(key, KeyRef::Arn(_))).map(|k| k.spec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[derive(Default)]
    struct FakeTime(AtomicU64);

    impl FakeTime {
        fn advance_ms(&self, ms: u64) {
            self.0.fetch_add(ms * 1_000_000, Ordering::SeqCst);
        }
    }

    impl Ticker for FakeTime {
        fn now_ns(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn account(n: u8) -> AccountId {
        AccountId::parse(&format!("{:012}", n)).unwrap()
    }

    fn quotas(config: QuotaConfig) -> (Quotas, Arc<FakeTime>) {
        let t = Arc::new(FakeTime::default());
        // Start away from zero so "now" minus anything stays meaningful.
        t.advance_ms(10_000);
        (Quotas::with_ticker(&config, t.clone()), t)
    }

    fn passed(q: &Quotas, a: &AccountId, op: &str, spec: Option<KeySpec>, n: usize) -> usize {
        (0..n).filter(|_| q.check(a, op, || spec).is_ok()).count()
    }

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let (q, t) = quotas(QuotaConfig::default());
        let a = account(1);
        // CreateKey: 5/s. Five at once pass, the sixth is throttled.
        assert_eq!(passed(&q, &a, "CreateKey", None, 6), 5);
        let e = q.check(&a, "CreateKey", || None).unwrap_err();
        assert_eq!((e.exception, e.status, e.message.as_str()), ("ThrottlingException", 400, THROTTLED));
        // One request's worth of time later (200 ms), exactly one more.
        t.advance_ms(200);
        assert_eq!(passed(&q, &a, "CreateKey", None, 3), 1);
        // A quiet second refills the bucket to its capacity and no further.
        t.advance_ms(10_000);
        assert_eq!(passed(&q, &a, "CreateKey", None, 10), 5);
    }

    #[test]
    fn sustained_rate_is_the_quota() {
        let mut c = QuotaConfig::default();
        c.operations.insert("DescribeKey".into(), 50.0);
        let (q, t) = quotas(c);
        let a = account(1);
        let mut ok = 0;
        // 10 s of 1000 requests per second: 50 burst + 50/s × 10 s.
        for _ in 0..10_000 {
            ok += passed(&q, &a, "DescribeKey", None, 1);
            t.advance_ms(1);
        }
        assert!((540..=551).contains(&ok), "{ok}");
    }

    #[test]
    fn families_accounts_and_operations_are_separate() {
        let mut c = QuotaConfig { symmetric: 3.0, rsa: 2.0, ..QuotaConfig::default() };
        c.operations.insert("CreateKey".into(), 1.0);
        let (q, _) = quotas(c);
        let (a, b) = (account(1), account(2));
        // Encrypt, Decrypt, GenerateMac share the symmetric bucket.
        assert!(q.check(&a, "Encrypt", || None).is_ok());
        assert!(q.check(&a, "Decrypt", || Some(KeySpec::SymmetricDefault)).is_ok());
        assert!(q.check(&a, "GenerateMac", || Some(KeySpec::Hmac256)).is_ok());
        assert!(q.check(&a, "GenerateRandom", || None).is_err());
        // RSA is counted apart, and so is another account.
        assert_eq!(passed(&q, &a, "Sign", Some(KeySpec::Rsa2048), 5), 2);
        assert_eq!(passed(&q, &b, "Encrypt", None, 5), 3);
        // Management operations each have their own bucket; unlisted ones have none.
        assert_eq!(passed(&q, &a, "CreateKey", None, 3), 1);
        assert_eq!(passed(&q, &a, "CreateAlias", None, 10), 5);
        assert_eq!(passed(&q, &a, "ReplicateKey", None, 100), 100);
    }

    #[test]
    fn fractional_and_disabled_quotas() {
        let mut c = QuotaConfig { ecc: 0.0, ..QuotaConfig::default() };
        c.operations.insert("ListKeys".into(), -1.0);
        let (q, t) = quotas(c);
        let a = account(1);
        // GetParametersForImport: one every four seconds.
        assert_eq!(passed(&q, &a, "GetParametersForImport", None, 3), 1);
        t.advance_ms(3_999);
        assert!(q.check(&a, "GetParametersForImport", || None).is_err());
        t.advance_ms(1);
        assert!(q.check(&a, "GetParametersForImport", || None).is_ok());
        assert_eq!(passed(&q, &a, "Sign", Some(KeySpec::EccNistP256), 1000), 1000);
        assert_eq!(passed(&q, &a, "ListKeys", None, 1000), 1000);
    }

    #[test]
    fn config_parses_with_defaults() {
        let c: QuotaConfig = toml_like("symmetric = 50000.0");
        assert_eq!(c.symmetric, 50_000.0);
        assert!(c.enabled);
        assert_eq!(c.rsa, 500.0);
        let c: QuotaConfig =
            serde_json::from_str(r#"{"operations": {"CreateKey": 50, "Encrypt": 1, "Nope": 2}}"#).unwrap();
        assert_eq!(Quotas::unknown_operations(&c), vec!["Encrypt".to_owned(), "Nope".to_owned()]);
    }

    fn toml_like(s: &str) -> QuotaConfig {
        let (k, v) = s.split_once(" = ").unwrap();
        serde_json::from_str(&format!("{{\"{k}\": {v}}}")).unwrap()
    }

    /// The cost of one check on an existing account's bucket, single-threaded.
    #[test]
    fn check_cost() {
        let q = Quotas::new(&QuotaConfig::default());
        let a = account(7);
        let n = 200_000;
        let start = Instant::now();
        for _ in 0..n {
            let _ = q.check(&a, "Encrypt", || Some(KeySpec::SymmetricDefault));
        }
        let per = start.elapsed() / n;
        eprintln!("quota check: {per:?} per request");
        assert!(per < std::time::Duration::from_micros(20), "{per:?}");
    }
}
