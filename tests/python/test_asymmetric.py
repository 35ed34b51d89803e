"""Asymmetric keys through unmodified boto3 clients, in both dev regions: Sign/Verify,
GetPublicKey and RSA-OAEP, with `openssl` on the command line as the independent
implementation (it verifies keyraft's signatures and encrypts to keyraft's public keys).

The full spec × algorithm matrix runs in crates/keyraft-server/tests/asymmetric.rs; this file
checks what boto3 users see.
"""

import hashlib
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from kmscheck import assert_error

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def create(kms, spec, usage):
    return kms.create_key(KeySpec=spec, KeyUsage=usage, Description=f"asymmetric {spec}")["KeyMetadata"]


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True).returncode == 0


def test_ecc_key_metadata_and_public_key(region, kms):
    md = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    assert md["KeySpec"] == "ECC_NIST_P256"
    assert md["CustomerMasterKeySpec"] == "ECC_NIST_P256"
    assert md["KeyUsage"] == "SIGN_VERIFY"
    assert md["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    assert "EncryptionAlgorithms" not in md
    pk = region.clients[1].get_public_key(KeyId=md["KeyId"])
    assert pk["KeyId"] == md["Arn"]
    assert pk["KeySpec"] == "ECC_NIST_P256"
    assert pk["KeyUsage"] == "SIGN_VERIFY"
    assert pk["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    # DER SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING }
    assert pk["PublicKey"][:2] == b"\x30\x59"


@needs_openssl
def test_sign_raw_and_digest_verified_by_openssl(region, kms, tmp_path):
    md = create(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    pub = tmp_path / "pub.der"
    pub.write_bytes(kms.get_public_key(KeyId=md["KeyId"])["PublicKey"])
    message = b"signed by keyraft, checked by openssl"
    digest = hashlib.sha256(message).digest()
    (tmp_path / "digest").write_bytes(digest)
    for msg, mtype in ((message, "RAW"), (digest, "DIGEST")):
        out = kms.sign(KeyId=md["KeyId"], Message=msg, MessageType=mtype, SigningAlgorithm="ECDSA_SHA_256")
        assert out["KeyId"] == md["Arn"] and out["SigningAlgorithm"] == "ECDSA_SHA_256"
        (tmp_path / "sig").write_bytes(out["Signature"])
        assert openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(pub),
                       "-in", str(tmp_path / "digest"), "-sigfile", str(tmp_path / "sig"),
                       "-pkeyopt", "digest:sha256")
        ok = region.clients[2].verify(KeyId=md["KeyId"], Message=message, Signature=out["Signature"],
                                      SigningAlgorithm="ECDSA_SHA_256")
        assert ok["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=md["KeyId"], Message=b"another message", Signature=out["Signature"],
                   SigningAlgorithm="ECDSA_SHA_256")
    assert e.value.response["Error"]["Code"] == "KMSInvalidSignatureException"
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=md["KeyId"], Message=digest[:31], MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256")
    assert_error(e, "ValidationException")
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=md["KeyId"], Message=message, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert_error(e, "InvalidKeyUsageException")


@needs_openssl
def test_rsa_oaep_public_key_encrypts_locally_kms_decrypts(region, kms, tmp_path):
    md = create(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    assert md["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    pub = tmp_path / "pub.der"
    pub.write_bytes(kms.get_public_key(KeyId=md["KeyId"])["PublicKey"])
    (tmp_path / "pt").write_bytes(b"for keyraft only")
    assert openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(pub),
                   "-in", str(tmp_path / "pt"), "-out", str(tmp_path / "ct"),
                   "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                   "-pkeyopt", "rsa_mgf1_md:sha256")
    out = region.clients[1].decrypt(KeyId=md["KeyId"], CiphertextBlob=(tmp_path / "ct").read_bytes(),
                                    EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert out["Plaintext"] == b"for keyraft only"
    assert out["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    enc = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x" * 214, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert len(enc["CiphertextBlob"]) == 256
    dec = kms.decrypt(KeyId=md["KeyId"], CiphertextBlob=enc["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert dec["Plaintext"] == b"x" * 214
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    assert_error(e, "InvalidKeyUsageException")
    with pytest.raises(ClientError) as e:
        kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")
    assert_error(e, "InvalidKeyUsageException")


def test_create_key_spec_and_usage_rules(kms):
    for spec, usage, code in (
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT", "ValidationException"),
        ("ECC_NIST_EDWARDS25519", "ENCRYPT_DECRYPT", "ValidationException"),
        ("HMAC_256", "ENCRYPT_DECRYPT", "ValidationException"),
    ):
        with pytest.raises(ClientError) as e:
            kms.create_key(KeySpec=spec, KeyUsage=usage)
        assert_error(e, code)


def test_ed25519ph_signs_a_sha512_digest(kms):
    md = create(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    digest = hashlib.sha512(b"pre-hashed message").digest()
    sig = kms.sign(KeyId=md["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512")
    assert len(sig["Signature"]) == 64 and sig["SigningAlgorithm"] == "ED25519_PH_SHA_512"
    ok = kms.verify(KeyId=md["KeyId"], Message=digest, MessageType="DIGEST", Signature=sig["Signature"], SigningAlgorithm="ED25519_PH_SHA_512")
    assert ok["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=md["KeyId"], Message=hashlib.sha512(b"other").digest(), MessageType="DIGEST", Signature=sig["Signature"], SigningAlgorithm="ED25519_PH_SHA_512")
    assert e.value.response["Error"]["Code"] == "KMSInvalidSignatureException"
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=md["KeyId"], Message=b"raw", MessageType="RAW", SigningAlgorithm="ED25519_PH_SHA_512")
    assert_error(e, "ValidationException")


def test_disabled_key_refuses_get_public_key(kms):
    md = create(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    assert md["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    sig = kms.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ED25519_SHA_512")["Signature"]
    assert len(sig) == 64
    kms.disable_key(KeyId=md["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.get_public_key(KeyId=md["KeyId"])
    assert_error(e, "DisabledException")
