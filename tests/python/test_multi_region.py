"""Multi-Region keys through unmodified boto3 clients, across the two `keyraft dev` regions,
asserting AWS KMS's behaviour: CreateKey MultiRegion=True, ReplicateKey, DescribeKey's
MultiRegionConfiguration, cross-region Encrypt/Decrypt/GenerateDataKey/ReEncrypt without
re-encryption, per-region properties, UpdatePrimaryRegion and PendingReplicaDeletion.

Most tests use one MRK (primary in us-east-1, replica in eu-west-1) made once for the module;
the tests that change shared or lifecycle state make their own.
"""

import re
import time

import pytest
from botocore.exceptions import ClientError
from kmscheck import assert_error

US, EU = "us-east-1", "eu-west-1"
MRK_ID_RE = re.compile(r"^mrk-[0-9a-f]{32}$")


def raises(code, call, status=400):
    """Runs call(), which must fail with the AWS error `code`."""
    with pytest.raises(ClientError) as e:
        call()
    assert_error(e, code, status)
    return e.value


def eventually(what, check, timeout=10.0):
    """AWS documents some multi-Region changes as completing a few seconds after the call
    (e.g. the transient Updating state of UpdatePrimaryRegion): poll check() until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.1)


def describe(kms, key):
    return kms.describe_key(KeyId=key)["KeyMetadata"]


def mr_type(md):
    return md.get("MultiRegionConfiguration", {}).get("MultiRegionKeyType")


def tags_of(kms, key_id):
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}


def create_mrk(kms, description="primary"):
    md = kms.create_key(MultiRegion=True, Description=description)["KeyMetadata"]
    return md


def replicate(us_kms, key_id, region=EU, **kwargs):
    out = us_kms.replicate_key(KeyId=key_id, ReplicaRegion=region, **kwargs)
    # AWS creates the replica in a transient Creating state that becomes Enabled in seconds.
    assert out["ReplicaKeyMetadata"]["KeyState"] in ("Creating", "Enabled"), out
    return out


def wait_enabled(kms, key_id):
    return eventually(f"{key_id} Enabled", lambda: (m := describe(kms, key_id))["KeyState"] == "Enabled" and m)


@pytest.fixture(scope="module")
def us(regions):
    return regions[US]


@pytest.fixture(scope="module")
def eu(regions):
    return regions[EU]


@pytest.fixture(scope="module")
def mrk(us, eu):
    """A primary in us-east-1 with a replica in eu-west-1 (description and tag of its own)."""
    md = create_mrk(us.kms)
    out = replicate(us.kms, md["KeyId"], Description="the replica", Tags=[{"TagKey": "site", "TagValue": "dr"}])
    wait_enabled(eu.kms, md["KeyId"])
    return {"id": md["KeyId"], "primary": md, "replicate": out}


# ---------------------------------------------------------------- create and replicate


def test_create_multi_region_key(us, eu):
    md = create_mrk(us.kms)
    key_id = md["KeyId"]
    assert MRK_ID_RE.match(key_id), key_id
    assert md["Arn"] == us.key_arn(key_id)
    assert md["MultiRegion"] is True
    assert md["KeyState"] == "Enabled"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    cfg = md["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "PRIMARY"
    assert cfg["PrimaryKey"] == {"Arn": us.key_arn(key_id), "Region": US}
    assert cfg["ReplicaKeys"] == []
    assert describe(us.clients[2], key_id)["MultiRegionConfiguration"] == cfg
    # Before ReplicateKey the other region does not know the key.
    raises("NotFoundException", lambda: eu.kms.describe_key(KeyId=key_id))
    # A single-Region key has no MultiRegionConfiguration.
    single = us.kms.create_key()["KeyMetadata"]
    assert single["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in single


def test_replicate_key_response(us, eu, mrk):
    out = mrk["replicate"]
    key_id = mrk["id"]
    rk = out["ReplicaKeyMetadata"]
    assert rk["KeyId"] == key_id
    assert rk["Arn"] == eu.key_arn(key_id)
    assert rk["AWSAccountId"] == eu.account_id
    assert rk["MultiRegion"] is True
    assert rk["Description"] == "the replica"
    assert rk["KeySpec"] == mrk["primary"]["KeySpec"]
    assert rk["KeyUsage"] == mrk["primary"]["KeyUsage"]
    assert rk["Origin"] == "AWS_KMS"
    cfg = rk["MultiRegionConfiguration"]
    assert cfg["MultiRegionKeyType"] == "REPLICA"
    assert cfg["PrimaryKey"] == {"Arn": us.key_arn(key_id), "Region": US}
    assert {"Arn": eu.key_arn(key_id), "Region": EU} in cfg["ReplicaKeys"]
    assert "Statement" in out["ReplicaPolicy"]
    assert out["ReplicaTags"] == [{"TagKey": "site", "TagValue": "dr"}]


def test_describe_key_from_both_regions(us, eu, mrk):
    key_id = mrk["id"]
    primary_ref = {"Arn": us.key_arn(key_id), "Region": US}
    replicas = [{"Arn": eu.key_arn(key_id), "Region": EU}]
    for client in us.clients:
        md = describe(client, key_id)
        assert md["Arn"] == us.key_arn(key_id)
        assert md["Description"] == "primary", "the description is per region"
        cfg = md["MultiRegionConfiguration"]
        assert cfg["MultiRegionKeyType"] == "PRIMARY"
        assert cfg["PrimaryKey"] == primary_ref
        assert cfg["ReplicaKeys"] == replicas
    # ReplicateKey answered after eu-west-1 had the replica: every eu node sees it.
    for client in eu.clients:
        for ref in (key_id, eu.key_arn(key_id)):
            md = describe(client, ref)
            assert md["KeyId"] == key_id
            assert md["Arn"] == eu.key_arn(key_id)
            assert md["KeyState"] == "Enabled"
            assert md["Description"] == "the replica"
            cfg = md["MultiRegionConfiguration"]
            assert cfg["MultiRegionKeyType"] == "REPLICA"
            assert cfg["PrimaryKey"] == primary_ref
            assert cfg["ReplicaKeys"] == replicas
    # The replica is listed in its region; the primary ARN means nothing in eu-west-1.
    eu_ids = [k["KeyId"] for p in eu.kms.get_paginator("list_keys").paginate() for k in p["Keys"]]
    assert key_id in eu_ids
    raises("NotFoundException", lambda: eu.kms.describe_key(KeyId=us.key_arn(key_id)))


# ---------------------------------------------------------------- cryptography across regions


def test_encrypt_in_one_region_decrypt_in_the_other(us, eu, mrk):
    key_id = mrk["id"]
    enc = us.kms.encrypt(KeyId=key_id, Plaintext=b"made in us-east-1", EncryptionContext={"purpose": "mrk"})
    assert enc["KeyId"] == us.key_arn(key_id)
    for client in eu.clients:
        dec = client.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"purpose": "mrk"})
        assert dec["Plaintext"] == b"made in us-east-1"
        assert dec["KeyId"] == eu.key_arn(key_id), "Decrypt names the local replica"
        assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    # Naming the local replica (by id or ARN) in Decrypt is fine; the context still binds.
    dec = eu.kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=eu.key_arn(key_id), EncryptionContext={"purpose": "mrk"})
    assert dec["Plaintext"] == b"made in us-east-1"
    raises("InvalidCiphertextException", lambda: eu.kms.decrypt(CiphertextBlob=enc["CiphertextBlob"]))

    # ... and back.
    enc = eu.clients[2].encrypt(KeyId=eu.key_arn(key_id), Plaintext=b"made in eu-west-1")
    assert enc["KeyId"] == eu.key_arn(key_id)
    dec = us.clients[1].decrypt(CiphertextBlob=enc["CiphertextBlob"])
    assert (dec["Plaintext"], dec["KeyId"]) == (b"made in eu-west-1", us.key_arn(key_id))


def test_generate_data_key_across_regions(us, eu, mrk):
    key_id = mrk["id"]
    dk = us.kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)
    assert dk["KeyId"] == us.key_arn(key_id)
    dec = eu.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])
    assert (dec["Plaintext"], dec["KeyId"]) == (dk["Plaintext"], eu.key_arn(key_id))

    dk = eu.kms.generate_data_key(KeyId=key_id, KeySpec="AES_128")
    assert dk["KeyId"] == eu.key_arn(key_id)
    assert len(dk["Plaintext"]) == 16
    dec = us.kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])
    assert (dec["Plaintext"], dec["KeyId"]) == (dk["Plaintext"], us.key_arn(key_id))

    nop = eu.kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    assert len(us.kms.decrypt(CiphertextBlob=nop["CiphertextBlob"])["Plaintext"]) == 32


def test_re_encrypt_in_the_replica_region(us, eu, mrk):
    key_id = mrk["id"]
    blob = us.kms.encrypt(KeyId=key_id, Plaintext=b"re-encrypt me")["CiphertextBlob"]
    re_ = eu.kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)
    assert re_["SourceKeyId"] == eu.key_arn(key_id)
    assert re_["KeyId"] == eu.key_arn(key_id)
    assert re_["CiphertextBlob"] != blob
    for kms in (us.kms, eu.kms):
        assert kms.decrypt(CiphertextBlob=re_["CiphertextBlob"])["Plaintext"] == b"re-encrypt me"

    # Into a single-Region eu-west-1 key: readable there only.
    local = eu.kms.create_key(Description="eu only")["KeyMetadata"]
    re_ = eu.kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=local["KeyId"])
    assert (re_["SourceKeyId"], re_["KeyId"]) == (eu.key_arn(key_id), local["Arn"])
    assert eu.kms.decrypt(CiphertextBlob=re_["CiphertextBlob"])["Plaintext"] == b"re-encrypt me"
    raises("InvalidCiphertextException", lambda: us.kms.decrypt(CiphertextBlob=re_["CiphertextBlob"]))


# ---------------------------------------------------------------- per-region properties


def test_tags_are_per_region(us, eu, mrk, unique):
    key_id = mrk["id"]
    us.kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"only-{unique}", "TagValue": "us"}])
    assert tags_of(us.kms, key_id) == {f"only-{unique}": "us"}
    assert tags_of(eu.kms, key_id) == {"site": "dr"}
    eu.kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "site", "TagValue": "dr2"}])
    assert tags_of(eu.clients[1], key_id) == {"site": "dr2"}
    assert tags_of(us.kms, key_id) == {f"only-{unique}": "us"}
    eu.kms.untag_resource(KeyId=key_id, TagKeys=["site"])
    assert tags_of(eu.kms, key_id) == {}
    assert tags_of(us.kms, key_id) == {f"only-{unique}": "us"}
    us.kms.untag_resource(KeyId=key_id, TagKeys=[f"only-{unique}"])


def test_aliases_and_descriptions_are_per_region(us, eu, unique):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    # No Description in ReplicateKey: the replica's is empty (the default), not the primary's.
    assert describe(eu.kms, key_id)["Description"] == ""
    eu.kms.update_key_description(KeyId=key_id, Description="eu text")
    assert describe(us.kms, key_id)["Description"] == "primary"
    assert describe(eu.kms, key_id)["Description"] == "eu text"

    alias = f"alias/mrk-shared-{unique}"
    us.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    raises("NotFoundException", lambda: eu.kms.describe_key(KeyId=alias))
    eu.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    assert describe(eu.kms, alias)["Arn"] == eu.key_arn(key_id)
    assert describe(us.kms, alias)["Arn"] == us.key_arn(key_id)
    # Encrypt by alias in us-east-1, decrypt in eu-west-1.
    blob = us.kms.encrypt(KeyId=alias, Plaintext=b"by alias")["CiphertextBlob"]
    assert eu.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"by alias"
    us.kms.delete_alias(AliasName=alias)
    assert describe(eu.kms, alias)["KeyId"] == key_id, "deleting the us alias leaves the eu one"
    assert [a["AliasName"] for a in eu.kms.list_aliases(KeyId=key_id)["Aliases"]] == [alias]
    assert us.kms.list_aliases(KeyId=key_id)["Aliases"] == []


def test_enable_disable_is_per_region(us, eu):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    blob = us.kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]

    eu.kms.disable_key(KeyId=key_id)
    md = describe(eu.clients[1], key_id)
    assert (md["KeyState"], md["Enabled"]) == ("Disabled", False)
    assert describe(us.kms, key_id)["KeyState"] == "Enabled"
    raises("DisabledException", lambda: eu.kms.encrypt(KeyId=key_id, Plaintext=b"x"))
    raises("DisabledException", lambda: eu.kms.decrypt(CiphertextBlob=blob))
    assert us.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    eu.kms.enable_key(KeyId=key_id)
    assert eu.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"

    us.kms.disable_key(KeyId=key_id)
    raises("DisabledException", lambda: us.kms.encrypt(KeyId=key_id, Plaintext=b"x"))
    assert describe(eu.kms, key_id)["KeyState"] == "Enabled"
    assert eu.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    us.kms.enable_key(KeyId=key_id)
    assert us.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_shared_properties_only_change_on_the_primary(us, eu, mrk):
    key_id = mrk["id"]
    raises("UnsupportedOperationException", lambda: eu.kms.enable_key_rotation(KeyId=key_id))
    assert eu.kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


# ---------------------------------------------------------------- what ReplicateKey refuses


def test_replicate_twice_is_already_exists(us, mrk):
    raises("AlreadyExistsException", lambda: us.kms.replicate_key(KeyId=mrk["id"], ReplicaRegion=EU))


def test_replicate_a_replica_is_unsupported(eu, mrk):
    raises("UnsupportedOperationException", lambda: eu.kms.replicate_key(KeyId=mrk["id"], ReplicaRegion=US))


def test_replicate_a_single_region_key_is_unsupported(us):
    single = us.kms.create_key(Description="single")["KeyMetadata"]["KeyId"]
    raises("UnsupportedOperationException", lambda: us.kms.replicate_key(KeyId=single, ReplicaRegion=EU))


def test_replicate_to_a_region_outside_the_deployment_is_unsupported(us, mrk):
    raises("UnsupportedOperationException", lambda: us.kms.replicate_key(KeyId=mrk["id"], ReplicaRegion="ap-south-1"))


@pytest.mark.parametrize(
    "bad_region",
    [
        "Not A Region",
        "us_east_1",
        "US-EAST-1",
        "useast1",
        "us-east",
    ],
)
def test_replicate_to_a_malformed_region_is_validation(us, mrk, bad_region):
    # RegionType: 1..32 characters matching ^([a-z]+-){2,3}\d+$
    raises("ValidationException", lambda: us.kms.replicate_key(KeyId=mrk["id"], ReplicaRegion=bad_region))


def test_replicate_to_its_own_region_is_refused(us, mrk):
    # AWS: the replica must be in a different Region than its primary key (it already exists there).
    with pytest.raises(ClientError) as e:
        us.kms.replicate_key(KeyId=mrk["id"], ReplicaRegion=US)
    assert e.value.response["Error"]["Code"] in ("AlreadyExistsException", "UnsupportedOperationException", "ValidationException")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# ---------------------------------------------------------------- UpdatePrimaryRegion


def test_update_primary_region_swaps_roles_and_back(us, eu):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    raises("UnsupportedOperationException", lambda: us.kms.update_primary_region(KeyId=key_id, PrimaryRegion="ap-south-1"))
    raises("UnsupportedOperationException", lambda: eu.kms.update_primary_region(KeyId=key_id, PrimaryRegion=US))
    raises("ValidationException", lambda: us.kms.update_primary_region(KeyId=key_id, PrimaryRegion="Not A Region"))

    out = us.kms.update_primary_region(KeyId=key_id, PrimaryRegion=EU)
    assert set(out) == {"ResponseMetadata"}, "UpdatePrimaryRegion returns no output"

    def swapped(primary, replica):
        def check():
            mds = {primary.name: describe(primary.kms, key_id), replica.name: describe(replica.kms, key_id)}
            if mr_type(mds[primary.name]) != "PRIMARY" or mr_type(mds[replica.name]) != "REPLICA":
                return None
            if any(m["KeyState"] != "Enabled" for m in mds.values()):  # transient Updating
                return None
            return mds

        mds = eventually(f"{primary.name} is the primary", check)
        for md in mds.values():
            cfg = md["MultiRegionConfiguration"]
            assert cfg["PrimaryKey"] == {"Arn": primary.key_arn(key_id), "Region": primary.name}
            assert cfg["ReplicaKeys"] == [{"Arn": replica.key_arn(key_id), "Region": replica.name}]

    swapped(eu, us)
    for client in eu.clients:
        assert mr_type(describe(client, key_id)) == "PRIMARY"
    # The old primary refuses shared changes now; the new one replicates, rotates and hands back.
    raises("UnsupportedOperationException", lambda: us.kms.update_primary_region(KeyId=key_id, PrimaryRegion=EU))
    raises("UnsupportedOperationException", lambda: us.kms.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1"))
    raises("AlreadyExistsException", lambda: eu.kms.replicate_key(KeyId=key_id, ReplicaRegion=US))
    blob = eu.kms.encrypt(KeyId=key_id, Plaintext=b"after one handover")["CiphertextBlob"]
    assert us.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"after one handover"

    eu.kms.update_primary_region(KeyId=key_id, PrimaryRegion=US)
    swapped(us, eu)
    blob = eu.kms.encrypt(KeyId=key_id, Plaintext=b"after two handovers")["CiphertextBlob"]
    dec = us.kms.decrypt(CiphertextBlob=blob)
    assert (dec["Plaintext"], dec["KeyId"]) == (b"after two handovers", us.key_arn(key_id))


# ---------------------------------------------------------------- deletion


def test_primary_with_replicas_waits_in_pending_replica_deletion(us, eu):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    blob = us.kms.encrypt(KeyId=key_id, Plaintext=b"outlives the primary")["CiphertextBlob"]

    out = us.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyId"] == us.key_arn(key_id)
    assert out["KeyState"] == "PendingReplicaDeletion"
    assert out["PendingWindowInDays"] == 7
    # (that the response has no DeletionDate is checked in the next test)

    md = describe(us.clients[1], key_id)
    assert md["KeyState"] == "PendingReplicaDeletion"
    assert md["Enabled"] is False
    assert md["PendingDeletionWindowInDays"] == 7
    assert "DeletionDate" not in md, md
    raises("KMSInvalidStateException", lambda: us.kms.encrypt(KeyId=key_id, Plaintext=b"x"))
    raises("KMSInvalidStateException", lambda: us.kms.decrypt(CiphertextBlob=blob))
    raises("KMSInvalidStateException", lambda: us.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7))

    # The replica is untouched and keeps working.
    md = describe(eu.kms, key_id)
    assert md["KeyState"] == "Enabled"
    assert md["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == US
    assert eu.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"outlives the primary"

    cancelled = us.clients[2].cancel_key_deletion(KeyId=key_id)
    assert cancelled["KeyId"] == us.key_arn(key_id)
    md = describe(us.kms, key_id)
    assert (md["KeyState"], md["Enabled"]) == ("Disabled", False)
    assert "PendingDeletionWindowInDays" not in md
    assert "DeletionDate" not in md
    us.kms.enable_key(KeyId=key_id)
    assert us.kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"outlives the primary"
    assert mr_type(describe(us.kms, key_id)) == "PRIMARY"


def test_schedule_primary_with_replicas_has_no_deletion_date(us, eu):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    out = us.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    us.kms.cancel_key_deletion(KeyId=key_id)
    assert out["KeyState"] == "PendingReplicaDeletion"
    # AWS: "If the KMS key is a multi-Region primary key with replica keys, this field does not
    # appear. The deletion date for the primary key isn't known until its last replica key is deleted."
    assert "DeletionDate" not in out, out


def test_scheduling_a_replica_for_deletion(us, eu):
    key_id = create_mrk(us.kms)["KeyId"]
    replicate(us.kms, key_id)
    wait_enabled(eu.kms, key_id)
    out = eu.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyId"] == eu.key_arn(key_id)
    assert out["KeyState"] == "PendingDeletion"
    assert "DeletionDate" in out
    assert describe(us.kms, key_id)["KeyState"] == "Enabled"
    eu.kms.cancel_key_deletion(KeyId=key_id)
    assert describe(eu.kms, key_id)["KeyState"] == "Disabled"
