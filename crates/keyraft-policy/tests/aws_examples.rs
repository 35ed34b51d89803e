//! Policy-evaluation cases taken from AWS documentation examples. Each case names the doc page
//! it comes from; each positive case has a nearby negative case so the table can fail.

use keyraft_policy::{default_key_policy, Context, Evaluation, Policy, PolicyError, PolicyKind, Principal, Request};

const ACCT: &str = "111122223333";
const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const ROOT: &str = "arn:aws:iam::111122223333:root";
const ALICE: &str = "arn:aws:iam::111122223333:user/Alice";

const NONE: Evaluation = Evaluation { explicit_deny: false, allow: false, allow_account: false };
const ALLOW: Evaluation = Evaluation { explicit_deny: false, allow: true, allow_account: false };
const ACCOUNT: Evaluation = Evaluation { explicit_deny: false, allow: false, allow_account: true };
const DENY: Evaluation = Evaluation { explicit_deny: true, allow: false, allow_account: false };

struct Case<'a> {
    name: &'a str,
    caller: &'a str,
    account: &'a str,
    action: &'a str,
    resource: &'a str,
    context: &'a [(&'a str, &'a str)],
    expected: Evaluation,
}

fn case<'a>(name: &'a str, caller: &'a str, action: &'a str, expected: Evaluation) -> Case<'a> {
    Case { name, caller, account: ACCT, action, resource: KEY, context: &[], expected }
}

impl<'a> Case<'a> {
    fn ctx(mut self, context: &'a [(&'a str, &'a str)]) -> Self {
        self.context = context;
        self
    }
    fn account(mut self, account: &'a str) -> Self {
        self.account = account;
        self
    }
    fn resource(mut self, resource: &'a str) -> Self {
        self.resource = resource;
        self
    }
}

fn run(policy: &str, kind: PolicyKind, cases: &[Case<'_>]) {
    let policy = Policy::parse(policy, kind).unwrap_or_else(|e| panic!("parse: {e}"));
    for c in cases {
        let mut context = Context::new();
        for (k, v) in c.context {
            context.insert(k, *v);
        }
        let request = Request {
            principal: Principal { arn: c.caller, account: c.account },
            action: c.action,
            resource: c.resource,
            context: &context,
        };
        assert_eq!(policy.evaluate(&request), c.expected, "case: {}", c.name);
    }
}

// KMS Developer Guide, "Default key policy": the statement that lets the account's IAM
// policies control access to the key.
#[test]
fn default_key_policy_delegates_to_the_account() {
    run(
        &default_key_policy(ACCT),
        PolicyKind::Key,
        &[
            case("root is named itself", ROOT, "kms:PutKeyPolicy", ALLOW),
            case("an IAM user only through its account", ALICE, "kms:Encrypt", ACCOUNT),
            case("action names are case-insensitive", ALICE, "KMS:ENCRYPT", ACCOUNT),
            case(
                "a role session only through its account",
                "arn:aws:sts::111122223333:assumed-role/Ops/s1",
                "kms:Decrypt",
                ACCOUNT,
            ),
            case("another account gets nothing", "arn:aws:iam::444455556666:user/Bob", "kms:Encrypt", NONE)
                .account("444455556666"),
            case("another service's action gets nothing", ROOT, "s3:GetObject", NONE),
        ],
    );
}

#[test]
fn default_key_policy_text_is_byte_exact() {
    let expected = "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}";
    assert_eq!(default_key_policy(ACCT), expected);
    assert!(!default_key_policy(ACCT).ends_with('\n'));
}

#[test]
fn has_conditions_tells_whether_the_context_is_read() {
    let default = Policy::parse(&default_key_policy(ACCT), PolicyKind::Key).unwrap();
    assert!(!default.has_conditions());
    let conditioned = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        PolicyKind::Key,
    )
    .unwrap();
    assert!(conditioned.has_conditions());
}

// KMS Developer Guide, "Default key policy" → "Allows key administrators to administer the
// KMS key" and "Allows key users to use the KMS key" (console default key policy).
const CONSOLE_POLICY: &str = r#"{
  "Id": "key-consolepolicy-3",
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Enable IAM User Permissions",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "kms:*",
      "Resource": "*"
    },
    {
      "Sid": "Allow access for Key Administrators",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::111122223333:role/ExampleAdminRole"]},
      "Action": [
        "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
        "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*",
        "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"
      ],
      "Resource": "*"
    },
    {
      "Sid": "Allow use of the key",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
      "Resource": "*"
    },
    {
      "Sid": "Allow attachment of persistent resources",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
      "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
      "Resource": "*",
      "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    }
  ]
}"#;

#[test]
fn console_key_administrators_and_users() {
    const ADMIN: &str = "arn:aws:sts::111122223333:assumed-role/ExampleAdminRole/alice";
    const USER: &str = "arn:aws:iam::111122223333:role/ExampleRole";
    const BOTH: Evaluation = Evaluation { explicit_deny: false, allow: true, allow_account: true };
    run(
        CONSOLE_POLICY,
        PolicyKind::Key,
        &[
            // Every caller of the account also gets allow_account from the first statement.
            case("admin may schedule deletion", ADMIN, "kms:ScheduleKeyDeletion", BOTH),
            case("admin may Describe* (wildcard)", ADMIN, "kms:DescribeKey", BOTH),
            case("admin may not decrypt", ADMIN, "kms:Decrypt", ACCOUNT),
            case("user may GenerateDataKey* (wildcard)", USER, "kms:GenerateDataKeyWithoutPlaintext", BOTH),
            case("user may not disable", USER, "kms:DisableKey", ACCOUNT),
            // kms:GrantIsForAWSResource: grants only for AWS services integrated with KMS.
            case("user grant for an AWS resource", USER, "kms:CreateGrant", BOTH)
                .ctx(&[("kms:GrantIsForAWSResource", "true")]),
            case("user grant not for an AWS resource", USER, "kms:CreateGrant", ACCOUNT)
                .ctx(&[("kms:GrantIsForAWSResource", "false")]),
            case("user grant, key absent", USER, "kms:CreateGrant", ACCOUNT),
            case(
                "same role name in another account",
                "arn:aws:iam::444455556666:role/ExampleRole",
                "kms:Encrypt",
                NONE,
            )
            .account("444455556666"),
        ],
    );
}

// KMS Developer Guide, "AWS KMS condition keys" → kms:ViaService / kms:CallerAccount: the key
// policy of an AWS managed key (Amazon EBS), "Principal": {"AWS": "*"} narrowed by conditions.
#[test]
fn via_service_and_caller_account() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Id": "auto-ebs-2",
      "Statement": [{
        "Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
          "StringEquals": {
            "kms:CallerAccount": "111122223333",
            "kms:ViaService": "ec2.us-west-2.amazonaws.com"
          }
        }
      }]
    }"#;
    let both: &[(&str, &str)] = &[("kms:CallerAccount", ACCT), ("kms:ViaService", "ec2.us-west-2.amazonaws.com")];
    run(
        policy,
        PolicyKind::Key,
        &[
            case("through EBS from the account", ALICE, "kms:Decrypt", ALLOW).ctx(both),
            case("directly, not through EBS", ALICE, "kms:Decrypt", NONE).ctx(&[("kms:CallerAccount", ACCT)]),
            case("through EBS in another region", ALICE, "kms:Decrypt", NONE)
                .ctx(&[("kms:CallerAccount", ACCT), ("kms:ViaService", "ec2.us-east-1.amazonaws.com")]),
            case("through EBS from another account", ALICE, "kms:Decrypt", NONE)
                .ctx(&[("kms:CallerAccount", "444455556666"), ("kms:ViaService", "ec2.us-west-2.amazonaws.com")]),
            case("action not listed", ALICE, "kms:ScheduleKeyDeletion", NONE).ctx(both),
        ],
    );
}

// KMS Developer Guide, "AWS KMS condition keys" → kms:EncryptionContext:context-key.
#[test]
fn encryption_context_key_value() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:role/RoleForExampleApp"},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}}
      }]
    }"#;
    let role = "arn:aws:sts::111122223333:assumed-role/RoleForExampleApp/app";
    run(
        policy,
        PolicyKind::Key,
        &[
            case("matching pair", role, "kms:Decrypt", ALLOW)
                .ctx(&[("kms:EncryptionContext:AppName", "ExampleApp"), ("kms:EncryptionContext:FilePath", "/x")]),
            case("condition key name is case-insensitive", role, "kms:Decrypt", ALLOW)
                .ctx(&[("KMS:ENCRYPTIONCONTEXT:APPNAME", "ExampleApp")]),
            case("value is case-sensitive", role, "kms:Decrypt", NONE)
                .ctx(&[("kms:EncryptionContext:AppName", "exampleapp")]),
            case("no encryption context", role, "kms:Decrypt", NONE),
        ],
    );
}

// KMS Developer Guide, "AWS KMS condition keys" → kms:EncryptionContextKeys: "Require a
// particular encryption context key" (ForAnyValue) and "Allow only specified encryption context
// keys" (ForAllValues, with Null false so an empty context does not pass).
#[test]
fn encryption_context_keys_sets() {
    let any = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/Alice"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}
      }]
    }"#;
    run(
        any,
        PolicyKind::Key,
        &[
            case("AppName among the keys", ALICE, "kms:GenerateDataKey", ALLOW)
                .ctx(&[("kms:EncryptionContextKeys", "FilePath"), ("kms:EncryptionContextKeys", "AppName")]),
            case("AppName not among the keys", ALICE, "kms:GenerateDataKey", NONE)
                .ctx(&[("kms:EncryptionContextKeys", "FilePath")]),
            case("ForAnyValue, no encryption context", ALICE, "kms:GenerateDataKey", NONE),
        ],
    );
    let all = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/Alice"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {
          "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName", "FilePath"]},
          "Null": {"kms:EncryptionContextKeys": "false"}
        }
      }]
    }"#;
    run(
        all,
        PolicyKind::Key,
        &[
            case("only allowed keys", ALICE, "kms:GenerateDataKey", ALLOW)
                .ctx(&[("kms:EncryptionContextKeys", "AppName")]),
            case("both allowed keys", ALICE, "kms:GenerateDataKey", ALLOW)
                .ctx(&[("kms:EncryptionContextKeys", "AppName"), ("kms:EncryptionContextKeys", "FilePath")]),
            case("an extra key", ALICE, "kms:GenerateDataKey", NONE)
                .ctx(&[("kms:EncryptionContextKeys", "AppName"), ("kms:EncryptionContextKeys", "Dept")]),
            case("no context: Null false refuses", ALICE, "kms:GenerateDataKey", NONE),
        ],
    );
    // Without the Null guard, ForAllValues passes an absent key (IAM User Guide, "Single-valued
    // vs. multivalued context keys": ForAllValues "also returns true if there are no context keys
    // in the request").
    let all_unguarded = all.replace(r#","Null": {"kms:EncryptionContextKeys": "false"}"#, "");
    let all_unguarded = all_unguarded.replace(",\n          \"Null\": {\"kms:EncryptionContextKeys\": \"false\"}", "");
    assert!(!all_unguarded.contains("Null"));
    run(
        &all_unguarded,
        PolicyKind::Key,
        &[
            case("no context: ForAllValues alone passes", ALICE, "kms:GenerateDataKey", ALLOW),
            case("an extra key still fails", ALICE, "kms:GenerateDataKey", NONE)
                .ctx(&[("kms:EncryptionContextKeys", "Dept")]),
        ],
    );
}

// IAM User Guide, "Multivalued context keys examples" → "Deny policy with condition set
// operator ForAllValues": the four rows of its evaluation table (match = denied).
#[test]
fn iam_for_all_values_string_not_like_deny() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Sid": "DenyRestrictedTags",
        "Effect": "Deny",
        "Action": ["iam:Tag*", "iam:UnTag*"],
        "Resource": ["*"],
        "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
      }]
    }"#;
    run(
        policy,
        PolicyKind::Identity,
        &[
            case("key1:legal → no match", ALICE, "iam:TagUser", NONE).ctx(&[("aws:TagKeys", "key1:legal")]),
            case("key1:hr, key1:personnel → no match", ALICE, "iam:TagUser", NONE)
                .ctx(&[("aws:TagKeys", "key1:hr"), ("aws:TagKeys", "key1:personnel")]),
            case("key2:audit → match", ALICE, "iam:TagUser", DENY).ctx(&[("aws:TagKeys", "key2:audit")]),
            case("no aws:TagKeys → match", ALICE, "iam:TagUser", DENY),
            case("other action → no match", ALICE, "iam:ListUsers", NONE),
        ],
    );
}

// IAM User Guide, "Multivalued context keys examples" → "Allow policy with condition set
// operator ForAnyValue".
#[test]
fn iam_for_any_value_string_like_allow() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Action": "ec2:CreateTags",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["key1*", "key2*"]}}
      }]
    }"#;
    run(
        policy,
        PolicyKind::Identity,
        &[
            case("one matching tag", ALICE, "ec2:CreateTags", ALLOW)
                .ctx(&[("aws:TagKeys", "key3:x"), ("aws:TagKeys", "key2:y")]),
            case("no matching tag", ALICE, "ec2:CreateTags", NONE).ctx(&[("aws:TagKeys", "key3:x")]),
            case("no aws:TagKeys", ALICE, "ec2:CreateTags", NONE),
        ],
    );
}

// IAM User Guide, "IAM JSON policy elements: Condition operators" → "...IfExists condition
// operators" (ec2:InstanceType) and "Condition operator to check existence of condition keys"
// (Null on aws:TokenIssueTime).
#[test]
fn iam_if_exists_and_null() {
    let if_exists = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Sid": "THISPOLICYDOESNOTWORK",
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "*",
        "Condition": {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
      }]
    }"#;
    run(
        if_exists,
        PolicyKind::Identity,
        &[
            case("allowed type", ALICE, "ec2:RunInstances", ALLOW).ctx(&[("ec2:InstanceType", "t2.micro")]),
            case("other type", ALICE, "ec2:RunInstances", NONE).ctx(&[("ec2:InstanceType", "c5.large")]),
            case("resource without the key", ALICE, "ec2:RunInstances", ALLOW),
        ],
    );
    let null = r#"{
      "Version": "2012-10-17",
      "Statement": {
        "Action": "ec2:*",
        "Effect": "Allow",
        "Resource": "*",
        "Condition": {"Null": {"aws:TokenIssueTime": "true"}}
      }
    }"#;
    run(
        null,
        PolicyKind::Identity,
        &[
            case("long-term credentials", ALICE, "ec2:DescribeInstances", ALLOW),
            case("temporary credentials", ALICE, "ec2:DescribeInstances", NONE)
                .ctx(&[("aws:TokenIssueTime", "2026-12-04T13:00:00Z")]),
        ],
    );
}

// Amazon EBS User Guide, "Control access to EBS direct APIs using IAM": a time window with
// DateGreaterThan / DateLessThan on aws:CurrentTime.
#[test]
fn date_window() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Action": ["ebs:ListSnapshotBlocks", "ebs:ListChangedBlocks", "ebs:GetSnapshotBlock"],
        "Resource": "arn:aws:ec2:*::snapshot/*",
        "Condition": {
          "DateGreaterThan": {"aws:CurrentTime": "2018-05-29T00:00:00Z"},
          "DateLessThan": {"aws:CurrentTime": "2020-05-29T23:59:59Z"}
        }
      }]
    }"#;
    let snap = "arn:aws:ec2:us-west-2::snapshot/snap-1";
    run(
        policy,
        PolicyKind::Identity,
        &[
            case("inside", ALICE, "ebs:GetSnapshotBlock", ALLOW)
                .resource(snap)
                .ctx(&[("aws:CurrentTime", "2019-01-01T00:00:00Z")]),
            case("after", ALICE, "ebs:GetSnapshotBlock", NONE)
                .resource(snap)
                .ctx(&[("aws:CurrentTime", "2026-12-04T13:00:00Z")]),
            case("no clock given", ALICE, "ebs:GetSnapshotBlock", NONE).resource(snap),
            case("resource pattern does not match", ALICE, "ebs:GetSnapshotBlock", NONE)
                .resource("arn:aws:ec2:us-west-2::volume/vol-1")
                .ctx(&[("aws:CurrentTime", "2019-01-01T00:00:00Z")]),
        ],
    );
}

// IAM User Guide, "AWS JSON policy elements: NotPrincipal" → "Specifying NotPrincipal and
// Deny": deny everyone except the listed role session, its role and its account.
#[test]
fn not_principal_deny() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [
          "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
          "arn:aws:iam::444455556666:role/cross-account-read-only-role",
          "arn:aws:iam::444455556666:root"
        ]},
        "Action": "kms:*",
        "Resource": "*"
      }]
    }"#;
    let other = "444455556666";
    run(
        policy,
        PolicyKind::Key,
        &[
            case(
                "the listed session is not denied",
                "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
                "kms:Decrypt",
                NONE,
            )
            .account(other),
            case(
                "another session of the role is denied",
                "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/other-app",
                "kms:Decrypt",
                DENY,
            )
            .account(other),
            case("another user of that account is denied", "arn:aws:iam::444455556666:user/Bob", "kms:Decrypt", DENY)
                .account(other),
            case("the listed account root is not denied", "arn:aws:iam::444455556666:root", "kms:Decrypt", NONE)
                .account(other),
            case("a user of the key's account is denied", ALICE, "kms:Decrypt", DENY),
        ],
    );
    // Without the account ARN in the list, even the listed session is denied (the account
    // identity is not listed).
    let without_account = policy.replace(",\n          \"arn:aws:iam::444455556666:root\"", "");
    assert!(!without_account.contains(":root"));
    run(
        &without_account,
        PolicyKind::Key,
        &[case(
            "listed session, account not listed",
            "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
            "kms:Decrypt",
            DENY,
        )
        .account(other)],
    );
    // Likewise without the role ARN: the session's role identity is not listed.
    let without_role =
        policy.replace(",\n          \"arn:aws:iam::444455556666:role/cross-account-read-only-role\"", "");
    assert!(!without_role.contains(":role/"));
    run(
        &without_role,
        PolicyKind::Key,
        &[
            case(
                "listed session, role not listed",
                "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
                "kms:Decrypt",
                DENY,
            )
            .account(other),
            case("account root still not denied", "arn:aws:iam::444455556666:root", "kms:Decrypt", NONE).account(other),
        ],
    );
}

// KMS Developer Guide, "Key policies in AWS KMS" → cross-account: naming another account's root
// delegates to that account; a Deny naming an account covers its users.
#[test]
fn cross_account_and_deny_by_account() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "Allow an external account to use this KMS key",
          "Effect": "Allow",
          "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "111122223333"]},
          "Action": ["kms:Encrypt", "kms:Decrypt"],
          "Resource": "*"
        },
        {
          "Sid": "No decrypt for the external account without context",
          "Effect": "Deny",
          "Principal": {"AWS": "444455556666"},
          "Action": "kms:Decrypt",
          "Resource": "*",
          "Condition": {"Null": {"kms:EncryptionContextKeys": "true"}}
        }
      ]
    }"#;
    let bob = "arn:aws:iam::444455556666:user/Bob";
    let both = Evaluation { explicit_deny: true, allow: false, allow_account: true };
    run(
        policy,
        PolicyKind::Key,
        &[
            case("external user encrypts via its account", bob, "kms:Encrypt", ACCOUNT).account("444455556666"),
            case("external user decrypts without context: denied", bob, "kms:Decrypt", both).account("444455556666"),
            case("external user decrypts with context", bob, "kms:Decrypt", ACCOUNT)
                .account("444455556666")
                .ctx(&[("kms:EncryptionContextKeys", "AppName")]),
            case("own root named by bare account id", ROOT, "kms:Decrypt", ALLOW),
            case("own user: account only, not denied", ALICE, "kms:Decrypt", ACCOUNT),
        ],
    );
}

// IAM User Guide, "IAM JSON policy elements: NotAction" and "NotResource".
#[test]
fn not_action_and_not_resource() {
    let policy = r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Effect": "Allow", "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:*",
         "NotResource": "arn:aws:kms:us-west-2:111122223333:key/*"}
      ]
    }"#;
    run(
        policy,
        PolicyKind::Identity,
        &[
            case("anything but deletion", ALICE, "kms:Encrypt", ALLOW),
            case("deletion is not allowed", ALICE, "kms:ScheduleKeyDeletion", NONE),
            case(
                "key in another region is denied",
                ALICE,
                "kms:Encrypt",
                Evaluation { explicit_deny: true, allow: true, allow_account: false },
            )
            .resource("arn:aws:kms:eu-west-1:111122223333:key/k"),
            case(
                "resource \"*\" is outside NotResource's pattern",
                ALICE,
                "kms:CreateKey",
                Evaluation { explicit_deny: true, allow: true, allow_account: false },
            )
            .resource("*"),
        ],
    );
}

fn malformed(doc: &str, kind: PolicyKind) -> String {
    match Policy::parse(doc, kind) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(PolicyError::Malformed(m)) => m,
    }
}

#[test]
fn malformed_documents_and_messages() {
    use PolicyKind::{Identity, Key};
    let stmt = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{{{body}}}]}}"#);
    let p = r#""Principal":{"AWS":"arn:aws:iam::111122223333:root"}"#;
    let cases: Vec<(String, PolicyKind, &str)> = vec![
        ("not json".into(), Key, "Syntax errors in policy."),
        ("[1,2]".into(), Key, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17"}"#.into(), Key, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":[]}"#.into(), Key, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-17","Statement":"x"}"#.into(), Key, "Syntax errors in policy."),
        (r#"{"Version":"2012-10-18","Statement":[]}"#.into(), Key, "The policy failed legacy parsing"),
        (r#"{"Extra":1,"Statement":[]}"#.into(), Key, "Syntax errors in policy."),
        (stmt(&format!(r#""Effect":"Permit",{p},"Action":"kms:*","Resource":"*""#)), Key, "Syntax errors in policy."),
        (stmt(&format!(r#""Effect":"allow",{p},"Action":"kms:*","Resource":"*""#)), Key, "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Action":"kms:*","Resource":"*""#), Key, "Policy contains a statement with no principal."),
        (stmt(&format!(r#""Effect":"Allow",{p},"Action":"kms:*","Resource":"*""#)), Identity, "Policy document should not specify a principal."),
        (stmt(&format!(r#""Effect":"Allow",{p},"NotPrincipal":"*","Action":"kms:*","Resource":"*""#)), Key, "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:*","Resource":"*""#), Key, "Policy contains a statement with one or more invalid principals."),
        (stmt(r#""Effect":"Allow","Principal":{"AWS":"Alice"},"Action":"kms:*","Resource":"*""#), Key, "Policy contains a statement with one or more invalid principals."),
        (stmt(&format!(r#""Effect":"Allow",{p},"Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*""#)), Key, "Syntax errors in policy."),
        (stmt(r#""Effect":"Allow","Resource":"*""#), Identity, "Policy statement must contain actions."),
        (stmt(r#""Effect":"Allow","Action":"kms:*""#), Identity, "Policy statement must contain resources."),
        (stmt(&format!(r#""Effect":"Allow",{p},"Action":"Encrypt","Resource":"*""#)), Key, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
        (stmt(&format!(r#""Effect":"Allow",{p},"Action":"kms:*","Resource":"*","Condtion":{{}}"#)), Key, "Syntax errors in policy."),
        (stmt(&format!(r#""Effect":"Allow",{p},"Action":"kms:*","Resource":"*","Condition":{{"StringEqualz":{{"k":"v"}}}}"#)), Key, "Invalid Condition type : StringEqualz."),
        (stmt(r#""Sid":"has space","Effect":"Allow","Action":"kms:*","Resource":"*""#), Identity, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"),
        (
            format!(r#"{{"Statement":[{{"Sid":"a","Effect":"Allow",{p},"Action":"kms:*","Resource":"*"}},{{"Sid":"a","Effect":"Deny",{p},"Action":"kms:*","Resource":"*"}}]}}"#),
            Key,
            "Statement IDs (SID) in a single policy must be unique.",
        ),
    ];
    for (doc, kind, expected) in &cases {
        assert_eq!(malformed(doc, *kind), *expected, "document: {doc}");
    }
}

#[test]
fn accepted_shapes() {
    use PolicyKind::Key;
    let ok = [
        // Version absent (2008-10-17), Statement as a single object, Sid with spaces (key policy).
        r#"{"Statement":{"Sid":"Key users may encrypt","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}}"#,
        r#"{"Version":"2008-10-17","Id":"x","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["kms:*"],"Resource":["*"]}]}"#,
        // Service / Federated principals are valid but never match an IAM caller.
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"logs.us-west-2.amazonaws.com"},"Action":"kms:Encrypt","Resource":"*"}]}"#,
        // KMS API Reference, PutKeyPolicy: a statement without Action or Resource is accepted.
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}"#,
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"}]}"#,
    ];
    for doc in ok {
        assert!(Policy::parse(doc, Key).is_ok(), "{doc}");
    }
    // ... and such a statement has no effect.
    run(ok[3], Key, &[case("statement without Action has no effect", ALICE, "kms:Encrypt", NONE)]);
    run(ok[4], Key, &[case("statement without Resource has no effect", ALICE, "kms:Encrypt", NONE)]);
    run(ok[2], Key, &[case("service principal never matches an IAM caller", ALICE, "kms:Encrypt", NONE)]);
    run(ok[0], Key, &[case("Principal \"*\"", ALICE, "kms:Encrypt", ALLOW)]);
}
