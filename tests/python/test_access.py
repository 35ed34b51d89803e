"""Access control with unmodified boto3: `keyraft dev`'s second principal (an IAM user of the dev
account with no identity policy) is denied until a grant or the key policy allows it."""

import json

import pytest

from kmscheck import assert_error


@pytest.fixture
def user(dev_info):
    users = dev_info.get("users") or []
    assert users, f"dev.json names no users: {sorted(dev_info)}"
    return users[0]


@pytest.fixture
def user_kms(region, user, make_client):
    """The user's client, on the region's second node (grants and policies are region-wide)."""
    return make_client(
        region.name,
        region.endpoints[1],
        access_key_id=user["access_key_id"],
        secret_access_key=user["secret_access_key"],
    )


def test_user_denied_until_a_grant_allows_it(region, kms, user, user_kms):
    key = kms.create_key(Description="access")["KeyMetadata"]
    with pytest.raises(user_kms.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert_error(e, "AccessDeniedException")
    msg = e.value.response["Error"]["Message"]
    assert f"User: {user['arn']} is not authorized to perform: kms:Encrypt on resource: {key['Arn']}" in msg, msg

    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user["arn"], Operations=["Encrypt", "Decrypt"])
    assert len(grant["GrantId"]) == 64 and grant["GrantToken"]
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"granted")["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"granted"
    with pytest.raises(user_kms.exceptions.ClientError) as e:
        user_kms.describe_key(KeyId=key["KeyId"])
    assert_error(e, "AccessDeniedException")

    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    assert listed[0]["GranteePrincipal"] == user["arn"]
    assert sorted(listed[0]["Operations"]) == ["Decrypt", "Encrypt"]

    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    with pytest.raises(user_kms.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert_error(e, "AccessDeniedException")
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    assert_error(e, "NotFoundException")


def test_user_allowed_by_the_key_policy_with_a_condition(region, kms, user, user_kms):
    key = kms.create_key(Description="access")["KeyMetadata"]
    root = f"arn:aws:iam::{region.account_id}:root"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "user, tenant a only",
                "Effect": "Allow",
                "Principal": {"AWS": user["arn"]},
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "a"}},
            },
        ],
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    blob = user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "a"})["Plaintext"] == b"p"
    with pytest.raises(user_kms.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"tenant": "b"})
    assert_error(e, "AccessDeniedException")


def test_lockout_check_and_malformed_policies(region, kms, user):
    key = kms.create_key(Description="access")["KeyMetadata"]
    only_user = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["arn"]}, "Action": "kms:*", "Resource": "*"}],
    }
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException) as e:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(only_user))
    assert_error(e, "MalformedPolicyDocumentException")
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}
    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException) as e:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(bad))
    assert_error(e, "MalformedPolicyDocumentException")
    # Nothing changed: the default policy is still in force for the root.
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Id"] == "key-default-1"
