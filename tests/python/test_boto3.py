"""keyraft through unmodified boto3 clients, in both dev regions, asserting AWS KMS's behaviour.

Each test taking the `region`/`kms` fixture runs once per region (see conftest.py).
"""

import base64
import datetime
import json
import uuid

import pytest
from botocore.exceptions import ClientError
from kmscheck import assert_error

UUID_LEN = 36


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def create_key(kms, description="", tags=None):
    kwargs = {"Description": description}
    if tags:
        kwargs["Tags"] = tags
    return kms.create_key(**kwargs)["KeyMetadata"]


def tags_of(kms, key_id):
    out = {}
    for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
        for t in page["Tags"]:
            assert t["TagKey"] not in out, page
            out[t["TagKey"]] = t["TagValue"]
    return out


def count_keys(kms):
    return sum(len(p["Keys"]) for p in kms.get_paginator("list_keys").paginate())


def aliases_of(kms, key_id):
    return sorted(a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"])


# ---------------------------------------------------------------- keys


def test_create_key_metadata(region, kms):
    before = now() - datetime.timedelta(seconds=5)
    resp = kms.create_key(
        Description="client test key",
        Tags=[{"TagKey": "team", "TagValue": "crypto"}, {"TagKey": "env", "TagValue": "test"}],
    )
    md = resp["KeyMetadata"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    key_id = md["KeyId"]
    assert len(key_id) == UUID_LEN and str(uuid.UUID(key_id)) == key_id
    assert md["Arn"] == region.key_arn(key_id)
    assert md["AWSAccountId"] == region.account_id
    assert md["Description"] == "client test key"
    assert md["Enabled"] is True
    assert md["KeyState"] == "Enabled"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["MultiRegion"] is False
    assert "DeletionDate" not in md
    assert before <= md["CreationDate"] <= now() + datetime.timedelta(seconds=5)
    assert tags_of(kms, key_id) == {"team": "crypto", "env": "test"}


def test_create_key_defaults(region, kms):
    md = kms.create_key()["KeyMetadata"]
    assert md["Description"] == ""
    assert md["KeyState"] == "Enabled"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert tags_of(kms, md["KeyId"]) == {}


def test_describe_key_by_id_arn_alias_and_alias_arn(region, kms, unique):
    md = create_key(kms, "describe me")
    key_id, arn = md["KeyId"], md["Arn"]
    alias = f"alias/describe-{unique}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    for ref in (key_id, arn, alias, region.alias_arn(alias)):
        got = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert got["KeyId"] == key_id, ref
        assert got["Arn"] == arn, ref
        assert got["Description"] == "describe me", ref
        assert got["CreationDate"] == md["CreationDate"], ref


def test_describe_key_from_every_node(region):
    """A key created through one node is visible through every node of the region at once."""
    for i, creator in enumerate(region.clients):
        md = create_key(creator, f"made on node {i + 1}")
        for j, reader in enumerate(region.clients):
            got = reader.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
            assert got["Description"] == f"made on node {i + 1}", (i, j)
            assert got["Arn"] == md["Arn"]


def test_describe_unknown_key_is_not_found(region, kms):
    for ref in (str(uuid.uuid4()), region.key_arn(str(uuid.uuid4())), "alias/does-not-exist-" + uuid.uuid4().hex):
        with pytest.raises(kms.exceptions.NotFoundException) as e:
            kms.describe_key(KeyId=ref)
        assert_error(e, "NotFoundException")


def test_update_key_description(region, kms):
    md = create_key(kms, "before")
    assert kms.update_key_description(KeyId=md["KeyId"], Description="after")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert region.clients[2].describe_key(KeyId=md["Arn"])["KeyMetadata"]["Description"] == "after"


# ---------------------------------------------------------------- listing


def test_list_keys_limit_and_marker(region, kms):
    made = {create_key(kms, f"list {i}")["KeyId"] for i in range(5)}

    seen, pages, marker = [], 0, None
    while True:
        kwargs = {"Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_keys(**kwargs)
        pages += 1
        assert len(page["Keys"]) <= 2, page
        for k in page["Keys"]:
            assert k["KeyArn"] == region.key_arn(k["KeyId"])
            seen.append(k["KeyId"])
        if page["Truncated"]:
            assert page["NextMarker"], page
            assert len(page["Keys"]) == 2, page
            marker = page["NextMarker"]
        else:
            assert "NextMarker" not in page, page
            break
        assert pages < 10000
    assert len(seen) == len(set(seen)), "a key was listed twice"
    assert made <= set(seen)
    assert pages >= 3

    one = kms.list_keys(Limit=1)
    assert len(one["Keys"]) == 1 and one["Truncated"] is True and one["NextMarker"]

    everything = kms.list_keys(Limit=1000)
    assert everything["Truncated"] is False
    assert {k["KeyId"] for k in everything["Keys"]} == set(seen)


def test_list_keys_paginator(region, kms):
    made = {create_key(kms, f"paginate {i}")["KeyId"] for i in range(3)}
    pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 2
    assert all(len(p["Keys"]) <= 2 for p in pages)
    ids = [k["KeyId"] for p in pages for k in p["Keys"]]
    assert len(ids) == len(set(ids))
    assert made <= set(ids)

    full = kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}).build_full_result()
    assert [k["KeyId"] for k in full["Keys"]] == ids

    capped = kms.get_paginator("list_keys").paginate(PaginationConfig={"MaxItems": 3, "PageSize": 2}).build_full_result()
    assert len(capped["Keys"]) == 3
    assert capped["NextToken"]
    rest = kms.get_paginator("list_keys").paginate(
        PaginationConfig={"PageSize": 2, "StartingToken": capped["NextToken"]}
    ).build_full_result()
    assert [k["KeyId"] for k in capped["Keys"] + rest["Keys"]] == ids


def test_list_keys_is_per_region(regions):
    us, eu = regions["us-east-1"], regions["eu-west-1"]
    us_key = create_key(us.kms, "us only")["KeyId"]
    eu_key = create_key(eu.kms, "eu only")["KeyId"]
    us_ids = {k["KeyId"] for p in us.kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    eu_ids = {k["KeyId"] for p in eu.kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    assert us_key in us_ids and us_key not in eu_ids
    assert eu_key in eu_ids and eu_key not in us_ids


# ---------------------------------------------------------------- aliases


def test_alias_lifecycle(region, kms, unique):
    k1 = create_key(kms, "alias target 1")
    k2 = create_key(kms, "alias target 2")
    name = f"alias/client-{unique}"

    before = now() - datetime.timedelta(seconds=5)
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    listed = kms.list_aliases(KeyId=k1["KeyId"])
    assert listed["Truncated"] is False
    assert len(listed["Aliases"]) == 1
    a = listed["Aliases"][0]
    assert a["AliasName"] == name
    assert a["AliasArn"] == region.alias_arn(name)
    assert a["TargetKeyId"] == k1["KeyId"]
    assert before <= a["CreationDate"] <= now() + datetime.timedelta(seconds=5)

    # the unfiltered listing has it too (through paging)
    all_aliases = {
        x["AliasName"]: x for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 1}) for x in p["Aliases"]
    }
    assert all_aliases[name]["TargetKeyId"] == k1["KeyId"]

    # a second alias of the same name is refused
    with pytest.raises(kms.exceptions.AlreadyExistsException) as e:
        kms.create_alias(AliasName=name, TargetKeyId=k2["KeyId"])
    assert_error(e, "AlreadyExistsException")

    # update points it at another key, seen from another node
    kms.update_alias(AliasName=name, TargetKeyId=k2["Arn"])
    assert aliases_of(kms, k1["KeyId"]) == []
    assert aliases_of(region.clients[1], k2["KeyId"]) == [name]
    assert region.clients[2].describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == k2["KeyId"]
    updated = kms.list_aliases(KeyId=k2["KeyId"])["Aliases"][0]
    assert updated["LastUpdatedDate"] >= updated["CreationDate"]

    # several aliases per key
    second = f"alias/client-second-{unique}"
    kms.create_alias(AliasName=second, TargetKeyId=k2["KeyId"])
    assert aliases_of(kms, k2["KeyId"]) == sorted([name, second])

    # delete
    kms.delete_alias(AliasName=name)
    kms.delete_alias(AliasName=second)
    assert aliases_of(kms, k2["KeyId"]) == []
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.describe_key(KeyId=name)
    assert_error(e, "NotFoundException")
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.delete_alias(AliasName=name)
    assert_error(e, "NotFoundException")
    # the key itself is untouched
    assert kms.describe_key(KeyId=k2["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_alias_to_unknown_key_is_not_found(region, kms, unique):
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.create_alias(AliasName=f"alias/nowhere-{unique}", TargetKeyId=str(uuid.uuid4()))
    assert_error(e, "NotFoundException")


def test_alias_name_must_start_with_alias_prefix(region, kms, unique):
    """AWS: ValidationException 'Alias must start with the prefix "alias/"'."""
    md = create_key(kms, "bad alias name")
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName=f"noprefix-{unique}", TargetKeyId=md["KeyId"])
    assert_error(e, "ValidationException")
    assert aliases_of(kms, md["KeyId"]) == []


def test_alias_names_are_per_region(regions, unique):
    """The same alias name may name different keys in different regions."""
    name = f"alias/both-{unique}"
    keys = {}
    for r in regions.values():
        keys[r.name] = create_key(r.kms, f"alias in {r.name}")["KeyId"]
        r.kms.create_alias(AliasName=name, TargetKeyId=keys[r.name])
    for r in regions.values():
        assert r.kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == keys[r.name]
        r.kms.delete_alias(AliasName=name)


# ---------------------------------------------------------------- tags


def test_tags(region, kms, unique):
    md = create_key(kms, "tags", tags=[{"TagKey": "a", "TagValue": "1"}])
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "b", "TagValue": "2"}, {"TagKey": "a", "TagValue": "one"}])
    assert tags_of(kms, md["KeyId"]) == {"a": "one", "b": "2"}
    assert tags_of(region.clients[1], md["Arn"]) == {"a": "one", "b": "2"}

    many = [{"TagKey": f"k{i:02d}", "TagValue": f"v{i}"} for i in range(5)]
    kms.tag_resource(KeyId=md["Arn"], Tags=many)
    page = kms.list_resource_tags(KeyId=md["KeyId"], Limit=3)
    assert len(page["Tags"]) == 3 and page["Truncated"] is True and page["NextMarker"]
    assert len(tags_of(kms, md["KeyId"])) == 7

    kms.untag_resource(KeyId=md["KeyId"], TagKeys=["a"] + [t["TagKey"] for t in many])
    assert tags_of(kms, md["KeyId"]) == {"b": "2"}
    resp = kms.list_resource_tags(KeyId=md["KeyId"])
    assert resp["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    assert resp["Truncated"] is False

    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.tag_resource(KeyId=str(uuid.uuid4()), Tags=[{"TagKey": "x", "TagValue": "y"}])
    assert_error(e, "NotFoundException")


# ---------------------------------------------------------------- cryptography


def test_encrypt_decrypt_with_context(region, kms, unique):
    md = create_key(kms, "crypto")
    alias = f"alias/crypto-{unique}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    ctx = {"purpose": "client-test", "tenant": "42"}
    plaintext = b"attack at dawn \x00\xff binary too"

    for ref in (md["KeyId"], md["Arn"], alias, region.alias_arn(alias)):
        enc = kms.encrypt(KeyId=ref, Plaintext=plaintext, EncryptionContext=ctx)
        assert enc["KeyId"] == md["Arn"], ref
        assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        blob = enc["CiphertextBlob"]
        assert isinstance(blob, bytes) and len(blob) > len(plaintext) and plaintext not in blob

        dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
        assert dec["Plaintext"] == plaintext
        assert dec["KeyId"] == md["Arn"]
        assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        # naming the key is allowed, by any of its names
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ctx, KeyId=ref)["Plaintext"] == plaintext

    # two encryptions of the same plaintext differ (random IV)
    a = kms.encrypt(KeyId=md["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    b = kms.encrypt(KeyId=md["KeyId"], Plaintext=plaintext)["CiphertextBlob"]
    assert a != b
    assert kms.decrypt(CiphertextBlob=a)["Plaintext"] == plaintext


def test_wrong_encryption_context_is_invalid_ciphertext(region, kms):
    md = create_key(kms, "context")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret", EncryptionContext={"k": "v"})["CiphertextBlob"]
    for ctx in ({"k": "other"}, {"other": "v"}, {"k": "v", "extra": "x"}, None):
        kwargs = {"CiphertextBlob": blob}
        if ctx is not None:
            kwargs["EncryptionContext"] = ctx
        with pytest.raises(kms.exceptions.InvalidCiphertextException) as e:
            kms.decrypt(**kwargs)
        assert_error(e, "InvalidCiphertextException")
    # and a context given at decrypt that was not given at encrypt
    plain = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as e:
        kms.decrypt(CiphertextBlob=plain, EncryptionContext={"k": "v"})
    assert_error(e, "InvalidCiphertextException")


def test_tampered_ciphertext_is_invalid(region, kms):
    md = create_key(kms, "tamper")
    blob = bytearray(kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret")["CiphertextBlob"])
    blob[-1] ^= 0x01
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as e:
        kms.decrypt(CiphertextBlob=bytes(blob))
    assert_error(e, "InvalidCiphertextException")


def test_decrypt_with_other_key_id_is_incorrect_key(region, kms):
    k1 = create_key(kms, "right")
    k2 = create_key(kms, "wrong")
    blob = kms.encrypt(KeyId=k1["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    with pytest.raises(kms.exceptions.IncorrectKeyException) as e:
        kms.decrypt(CiphertextBlob=blob, KeyId=k2["KeyId"])
    assert_error(e, "IncorrectKeyException")


def test_decrypt_through_another_node(region):
    """Every node of a region decrypts what every other node encrypted."""
    md = create_key(region.clients[0], "cross node")
    ctx = {"node": "any"}
    for i, enc_client in enumerate(region.clients):
        pt = f"encrypted on node {i + 1}".encode()
        blob = enc_client.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"]
        for j, dec_client in enumerate(region.clients):
            if i == j:
                continue
            dec = dec_client.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)
            assert dec["Plaintext"] == pt, (i, j)
            assert dec["KeyId"] == md["Arn"]


def test_re_encrypt(region, kms):
    src = create_key(kms, "re-encrypt source")
    dst = create_key(kms, "re-encrypt destination")
    blob = kms.encrypt(KeyId=src["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})["CiphertextBlob"]
    out = region.clients[1].re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=dst["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["SourceKeyId"] == src["Arn"]
    assert out["KeyId"] == dst["Arn"]
    assert out["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert out["CiphertextBlob"] != blob
    dec = region.clients[2].decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert dec["Plaintext"] == b"move me"
    assert dec["KeyId"] == dst["Arn"]

    with pytest.raises(kms.exceptions.InvalidCiphertextException) as e:
        kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "2"}, DestinationKeyId=dst["KeyId"])
    assert_error(e, "InvalidCiphertextException")


def test_generate_data_key(region, kms):
    md = create_key(kms, "data keys")
    ctx = {"file": "x.bin"}
    for spec, size in (("AES_256", 32), ("AES_128", 16)):
        out = kms.generate_data_key(KeyId=md["KeyId"], KeySpec=spec, EncryptionContext=ctx)
        assert out["KeyId"] == md["Arn"]
        assert len(out["Plaintext"]) == size
        dec = region.clients[1].decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=ctx)
        assert dec["Plaintext"] == out["Plaintext"]
    out = kms.generate_data_key(KeyId=md["KeyId"], NumberOfBytes=64)
    assert len(out["Plaintext"]) == 64
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == out["Plaintext"]
    a = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")["Plaintext"]
    b = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert a != b

    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=md["KeyId"])
    assert_error(e, "ValidationException")


def test_generate_data_key_without_plaintext(region, kms):
    md = create_key(kms, "data keys without plaintext")
    out = kms.generate_data_key_without_plaintext(KeyId=md["Arn"], KeySpec="AES_128", EncryptionContext={"c": "d"})
    assert "Plaintext" not in out
    assert out["KeyId"] == md["Arn"]
    dec = region.clients[2].decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"c": "d"})
    assert len(dec["Plaintext"]) == 16
    out = kms.generate_data_key_without_plaintext(KeyId=md["KeyId"], NumberOfBytes=48)
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 48


def test_generate_random(region, kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert isinstance(a, bytes) and len(a) == 32 and len(b) == 32
    assert a != b
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    assert len(kms.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    with pytest.raises(ClientError) as e:
        kms.generate_random(NumberOfBytes=1025)
    assert_error(e, "ValidationException")


# ---------------------------------------------------------------- key state


def test_disable_and_enable(region, kms):
    md = create_key(kms, "disable me")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"before")["CiphertextBlob"]

    kms.disable_key(KeyId=md["KeyId"])
    got = region.clients[1].describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert got["Enabled"] is False
    assert got["KeyState"] == "Disabled"

    with pytest.raises(kms.exceptions.DisabledException) as e:
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"while disabled")
    assert_error(e, "DisabledException")
    # (each boto3 session has its own exception classes: catch the calling client's)
    with pytest.raises(region.clients[2].exceptions.DisabledException) as e:
        region.clients[2].decrypt(CiphertextBlob=blob)
    assert_error(e, "DisabledException")
    with pytest.raises(kms.exceptions.DisabledException) as e:
        kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")
    assert_error(e, "DisabledException")

    kms.enable_key(KeyId=md["KeyId"])
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert got["Enabled"] is True
    assert got["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
    assert kms.encrypt(KeyId=md["KeyId"], Plaintext=b"after")["KeyId"] == md["Arn"]


def test_schedule_and_cancel_key_deletion(region, kms):
    md = create_key(kms, "delete me")
    blob = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"doomed")["CiphertextBlob"]

    before = now()
    out = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert out["KeyId"] == md["Arn"]
    assert out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    expected = before + datetime.timedelta(days=7)
    assert abs((out["DeletionDate"] - expected).total_seconds()) < 60 * 60 * 24, out["DeletionDate"]
    assert out["DeletionDate"] > before + datetime.timedelta(days=6)

    got = region.clients[1].describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert got["KeyState"] == "PendingDeletion"
    assert got["Enabled"] is False
    assert got["DeletionDate"] == out["DeletionDate"]

    for call in (
        lambda: kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.enable_key(KeyId=md["KeyId"]),
        lambda: kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7),
    ):
        with pytest.raises(kms.exceptions.KMSInvalidStateException) as e:
            call()
        assert_error(e, "KMSInvalidStateException")

    cancelled = region.clients[2].cancel_key_deletion(KeyId=md["Arn"])
    assert cancelled["KeyId"] == md["Arn"]
    got = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert got["KeyState"] == "Disabled"
    assert got["Enabled"] is False
    assert "DeletionDate" not in got

    with pytest.raises(kms.exceptions.KMSInvalidStateException) as e:
        kms.cancel_key_deletion(KeyId=md["KeyId"])
    assert_error(e, "KMSInvalidStateException")

    kms.enable_key(KeyId=md["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"doomed"


def test_schedule_key_deletion_default_and_bounds(region, kms):
    md = create_key(kms, "default window")
    out = kms.schedule_key_deletion(KeyId=md["KeyId"])
    assert out["PendingWindowInDays"] == 30
    kms.cancel_key_deletion(KeyId=md["KeyId"])
    for days in (6, 31):
        with pytest.raises(ClientError) as e:
            kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=days)
        assert_error(e, "ValidationException")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


# ---------------------------------------------------------------- policy and rotation


def test_key_policy(region, kms):
    md = create_key(kms, "policy")
    assert kms.list_key_policies(KeyId=md["KeyId"])["PolicyNames"] == ["default"]

    default = kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")
    assert default["PolicyName"] == "default"
    doc = json.loads(default["Policy"])
    assert doc["Version"] == "2012-10-17"
    principals = [s.get("Principal", {}).get("AWS") for s in doc["Statement"]]
    assert f"arn:aws:iam::{region.account_id}:root" in principals, doc
    root_stmt = next(s for s in doc["Statement"] if s.get("Principal", {}).get("AWS") == f"arn:aws:iam::{region.account_id}:root")
    assert root_stmt["Effect"] == "Allow"
    assert root_stmt["Action"] == "kms:*"
    assert root_stmt["Resource"] == "*"

    new_policy = {
        "Version": "2012-10-17",
        "Id": "client-test",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{region.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Describe only",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{region.account_id}:root"},
                "Action": ["kms:DescribeKey"],
                "Resource": "*",
            },
        ],
    }
    kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=json.dumps(new_policy))
    got = region.clients[1].get_key_policy(KeyId=md["Arn"], PolicyName="default")
    assert json.loads(got["Policy"]) == new_policy
    # PolicyName may be omitted (it defaults to "default")
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"]) == new_policy

    with pytest.raises(kms.exceptions.MalformedPolicyDocumentException) as e:
        kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy="{not json")
    assert_error(e, "MalformedPolicyDocumentException")
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")["Policy"]) == new_policy


def test_create_key_with_policy(region, kms):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{region.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    md = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")["Policy"]) == policy


def test_key_rotation(region, kms):
    md = create_key(kms, "rotation")
    status = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is False

    kms.enable_key_rotation(KeyId=md["KeyId"])
    status = region.clients[1].get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["KeyId"] == md["Arn"]
    assert status["RotationPeriodInDays"] == 365
    expected = now() + datetime.timedelta(days=365)
    assert abs((status["NextRotationDate"] - expected).total_seconds()) < 2 * 24 * 3600, status["NextRotationDate"]

    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=md["Arn"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90

    kms.disable_key_rotation(KeyId=md["KeyId"])
    status = region.clients[2].get_key_rotation_status(KeyId=md["KeyId"])
    assert status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in status
    assert "NextRotationDate" not in status


def test_server_side_validation(region, make_client):
    """Out-of-range values that botocore would refuse client-side, sent anyway: the server
    answers ValidationException as AWS does."""
    raw = make_client(region.name, region.endpoints[0], parameter_validation=False)
    md = create_key(raw, "server-side validation")
    for call in (
        lambda: raw.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=89),
        lambda: raw.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=2561),
        lambda: raw.list_keys(Limit=0),
        lambda: raw.list_keys(Limit=1001),
        lambda: raw.generate_random(NumberOfBytes=0),
        lambda: raw.encrypt(KeyId=md["KeyId"], Plaintext=b""),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert_error(e, "ValidationException")
    assert raw.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False


# ---------------------------------------------------------------- isolation and errors


def test_region_isolation(regions):
    us, eu = regions["us-east-1"], regions["eu-west-1"]
    md = create_key(us.kms, "us-east-1 only")
    for ref in (md["KeyId"], md["Arn"]):
        with pytest.raises(eu.kms.exceptions.NotFoundException) as e:
            eu.kms.describe_key(KeyId=ref)
        assert_error(e, "NotFoundException")
    with pytest.raises(eu.kms.exceptions.NotFoundException) as e:
        eu.kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    assert_error(e, "NotFoundException")

    # a us-east-1 ciphertext does not decrypt in eu-west-1
    blob = us.kms.encrypt(KeyId=md["KeyId"], Plaintext=b"stay home")["CiphertextBlob"]
    for client in eu.clients:
        with pytest.raises(client.exceptions.InvalidCiphertextException) as e:
            client.decrypt(CiphertextBlob=blob)
        assert_error(e, "InvalidCiphertextException")
    assert us.clients[1].decrypt(CiphertextBlob=blob)["Plaintext"] == b"stay home"


def test_request_signed_for_another_region_is_refused(dev_info, make_client, regions):
    """A client configured for eu-west-1 but sent to a us-east-1 node signs with the wrong scope."""
    wrong = make_client("eu-west-1", regions["us-east-1"].endpoints[0])
    with pytest.raises(ClientError) as e:
        wrong.list_keys()
    # AWS: InvalidSignatureException "Credential should be scoped to a valid region."
    assert_error(e, "InvalidSignatureException")


def test_unimplemented_operation(region, kms):
    # Custom key stores (CloudHSM, external key stores) are not part of keyraft.
    with pytest.raises(ClientError) as e:
        kms.describe_custom_key_stores()
    assert_error(e, "UnsupportedOperationException")


def test_unknown_access_key(region, make_client):
    bad = make_client(region.name, region.endpoints[0], access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key="x" * 40)
    with pytest.raises(ClientError) as e:
        bad.list_keys()
    assert_error(e, "UnrecognizedClientException")


def test_wrong_secret_key(region, make_client, dev_info):
    wrong = "A" * 40 if dev_info["secret_access_key"] != "A" * 40 else "B" * 40
    bad = make_client(region.name, region.endpoints[1], secret_access_key=wrong)
    before = count_keys(region.kms)
    with pytest.raises(ClientError) as e:
        bad.create_key(Description="never")
    assert_error(e, "InvalidSignatureException")
    assert count_keys(region.kms) == before, "a badly signed CreateKey created a key"


def test_validation_errors(region, kms):
    md = create_key(kms, "validation")
    # Plaintext over 4096 bytes
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x" * 4097)
    assert_error(e, "ValidationException")
    # an unknown key in encrypt
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"x")
    assert_error(e, "NotFoundException")
    # a blob that is not a KMS ciphertext at all
    with pytest.raises(kms.exceptions.InvalidCiphertextException) as e:
        kms.decrypt(CiphertextBlob=b"definitely not a ciphertext")
    assert_error(e, "InvalidCiphertextException")
    # a marker that never came from the server
    with pytest.raises(kms.exceptions.InvalidMarkerException) as e:
        kms.list_keys(Marker="bogus-marker")
    assert_error(e, "InvalidMarkerException")


def test_request_id_header_on_success_and_error(region, kms, response_log):
    """Every response carries x-amzn-requestid (checked for all calls by conftest's autouse
    fixture; here explicitly, and that the ids are unique)."""
    start = len(response_log.entries)
    ok = kms.generate_random(NumberOfBytes=8)
    assert ok["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == ok["ResponseMetadata"]["RequestId"]
    with pytest.raises(kms.exceptions.NotFoundException) as e:
        kms.describe_key(KeyId=str(uuid.uuid4()))
    assert_error(e, "NotFoundException")
    again = region.clients[1].list_keys(Limit=1)
    seen = response_log.entries[start:]
    assert [(op, status) for op, status, _, _ in seen] == [("GenerateRandom", 200), ("DescribeKey", 400), ("ListKeys", 200)]
    ids = [{k.lower(): v for k, v in h.items()}["x-amzn-requestid"] for _, _, h, _ in seen]
    assert len(set(ids)) == 3, ids
    assert again["ResponseMetadata"]["RequestId"] == ids[2]
