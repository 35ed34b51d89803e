"""Import of asymmetric and HMAC key material (BYOK) through unmodified boto3 clients, in both dev
regions, with the `openssl` command line making and wrapping the keys: an RSA_2048 signing key
(RSA_AES_KEY_WRAP_SHA_256), an ECC_NIST_P256 signing key (RSAES_OAEP_SHA_256) and an HMAC_256 key;
GetPublicKey equals openssl's public key, keyraft's signatures verify with openssl, GenerateMac
equals openssl's HMAC; the errors boto3 users see for other or mismatched material.

The full set (re-import in another encoding, DeleteImportedKeyMaterial, key agreement, RSA
decryption, a data-dir scan) runs in crates/keyraft-server/tests/import.rs.
"""

import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from kmscheck import assert_error

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args, stdin=None):
    out = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return out.stdout


def genkey(tmp_path, name, *gen):
    """(pem path, DER PKCS#8, DER SPKI) of a fresh `openssl genpkey` key."""
    pem = str(tmp_path / f"{name}.pem")
    openssl("genpkey", *gen, "-out", pem)
    pkcs8 = openssl("pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
    spki = openssl("pkey", "-in", pem, "-pubout", "-outform", "DER")
    return pem, pkcs8, spki


def wrap(tmp_path, public_der, alg, material):
    """AWS's wrapping of `material` for `alg` under the wrapping public key, with openssl only."""
    pub = tmp_path / "wrapping.der"
    pub.write_bytes(public_der)
    md = "sha1" if alg.endswith("SHA_1") else "sha256"

    def oaep(data):
        return openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(pub),
                       "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                       "-pkeyopt", f"rsa_mgf1_md:{md}", stdin=data)

    if alg.startswith("RSAES_OAEP"):
        return oaep(material)
    kek = os.urandom(32)
    kwp = openssl("enc", "-id-aes256-wrap-pad", "-K", kek.hex(), "-iv", "A65959A6", stdin=material)
    return oaep(kek) + kwp


def import_material(kms, key_id, alg, material, tmp_path):
    p = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=alg, WrappingKeySpec="RSA_2048")
    return kms.import_key_material(KeyId=key_id, ImportToken=p["ImportToken"],
                                   EncryptedKeyMaterial=wrap(tmp_path, p["PublicKey"], alg, material),
                                   ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")


def external(kms, spec, usage):
    md = kms.create_key(KeySpec=spec, KeyUsage=usage, Origin="EXTERNAL")["KeyMetadata"]
    assert md["KeyState"] == "PendingImport"
    assert md["Origin"] == "EXTERNAL"
    return md["KeyId"]


@pytest.mark.parametrize("spec,gen,alg,signing", [
    ("RSA_2048", ("-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"), "RSA_AES_KEY_WRAP_SHA_256",
     "RSASSA_PKCS1_V1_5_SHA_256"),
    ("ECC_NIST_P256", ("-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"), "RSAES_OAEP_SHA_256",
     "ECDSA_SHA_256"),
])
def test_import_asymmetric_key(region, kms, tmp_path, spec, gen, alg, signing):
    _, pkcs8, spki = genkey(tmp_path, "mine", *gen)
    key_id = external(kms, spec, "SIGN_VERIFY")
    import_material(kms, key_id, alg, pkcs8, tmp_path)
    other = region.clients[2]
    md = other.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "Enabled"
    assert md["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert other.get_public_key(KeyId=key_id)["PublicKey"] == spki
    sig = other.sign(KeyId=key_id, Message=b"byok", MessageType="RAW", SigningAlgorithm=signing)["Signature"]
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "msg").write_bytes(b"byok")
    (tmp_path / "mine.spki").write_bytes(spki)
    assert b"Verified OK" in openssl("dgst", "-sha256", "-keyform", "DER", "-verify", str(tmp_path / "mine.spki"),
                                     "-signature", str(tmp_path / "sig"), str(tmp_path / "msg"))
    # The same material again is fine; another key of the spec, or a key of another spec, is not.
    import_material(kms, key_id, "RSA_AES_KEY_WRAP_SHA_1", pkcs8, tmp_path)
    _, other_pkcs8, _ = genkey(tmp_path, "other", *gen)
    with pytest.raises(ClientError) as e:
        import_material(kms, key_id, "RSA_AES_KEY_WRAP_SHA_256", other_pkcs8, tmp_path)
    assert_error(e, "IncorrectKeyMaterialException")
    _, p384, _ = genkey(tmp_path, "p384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
    fresh = external(kms, spec, "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        import_material(kms, fresh, "RSA_AES_KEY_WRAP_SHA_256", p384, tmp_path)
    assert_error(e, "IncorrectKeyMaterialException")


def test_rsa_material_needs_rsa_aes_key_wrap(kms):
    key_id = external(kms, "RSA_2048", "SIGN_VERIFY")
    with pytest.raises(ClientError) as e:
        kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                      WrappingKeySpec="RSA_4096")
    assert_error(e, "UnsupportedOperationException")


def test_import_hmac_key(region, kms, tmp_path):
    key_id = external(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as e:
        import_material(kms, key_id, "RSAES_OAEP_SHA_256", os.urandom(16), tmp_path)
    assert_error(e, "IncorrectKeyMaterialException")
    material = os.urandom(48)
    import_material(kms, key_id, "RSAES_OAEP_SHA_256", material, tmp_path)
    mac = region.clients[1].generate_mac(KeyId=key_id, Message=b"hello", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mac == openssl("dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{material.hex()}", "-binary",
                          stdin=b"hello")
