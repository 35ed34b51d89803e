"""HMAC keys through unmodified boto3 clients, in both dev regions: CreateKey and DescribeKey of
every HMAC key spec, GenerateMac on one node and VerifyMac on another, and the errors boto3 users
see (KMSInvalidMacException, InvalidKeyUsageException, DryRunOperationException).

The full matrix, the key-state cases and the check against `openssl` run in
crates/keyraft-server/tests/hmac.rs.
"""

import pytest
from botocore.exceptions import ClientError

from kmscheck import assert_error

SPECS = [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
         ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)]


@pytest.mark.parametrize("spec,alg,length", SPECS)
def test_generate_and_verify_mac(region, kms, spec, alg, length):
    md = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC", Description=f"hmac {spec}")["KeyMetadata"]
    assert md["KeySpec"] == spec
    assert md["CustomerMasterKeySpec"] == spec
    assert md["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert md["MacAlgorithms"] == [alg]
    assert "EncryptionAlgorithms" not in md
    assert "SigningAlgorithms" not in md
    out = kms.generate_mac(KeyId=md["KeyId"], Message=b"hello", MacAlgorithm=alg)
    assert out["KeyId"] == md["Arn"]
    assert out["MacAlgorithm"] == alg
    assert len(out["Mac"]) == length
    other = region.clients[2]
    assert other.generate_mac(KeyId=md["Arn"], Message=b"hello", MacAlgorithm=alg)["Mac"] == out["Mac"]
    ok = other.verify_mac(KeyId=md["KeyId"], Message=b"hello", Mac=out["Mac"], MacAlgorithm=alg)
    assert ok["MacValid"] is True
    assert ok["KeyId"] == md["Arn"]
    assert ok["MacAlgorithm"] == alg
    with pytest.raises(ClientError) as e:
        other.verify_mac(KeyId=md["KeyId"], Message=b"hellO", Mac=out["Mac"], MacAlgorithm=alg)
    assert e.value.response["Error"]["Code"] == "KMSInvalidMacException"
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=md["KeyId"], Message=b"hello", MacAlgorithm=alg, DryRun=True)
    assert_error(e, "DryRunOperationException", 412)


def test_hmac_usage_errors(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="HMAC_256")
    assert_error(e, "ValidationException")
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert_error(e, "InvalidKeyUsageException")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"m")
    assert_error(e, "InvalidKeyUsageException")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as e:
        kms.generate_mac(KeyId=symmetric, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert_error(e, "InvalidKeyUsageException")
