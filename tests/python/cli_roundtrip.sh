#!/usr/bin/env bash
# The AWS CLI round trip, exactly as a user types it, against a running `keyraft dev`:
# create a key, alias it, encrypt a file by alias, decrypt it (through the same node and through
# another node of the region), compare; and check that the other region refuses the ciphertext.
# Done once per region (us-east-1 with --region, eu-west-1 with AWS_DEFAULT_REGION). Then a
# multi-Region key: create-key --multi-region, replicate-key, encrypt in us-east-1 and decrypt in
# eu-west-1, describe-key's MultiRegionKeyType, update-primary-region.
#
#   KEYRAFT_DEV_JSON=path/to/dev.json tests/python/cli_roundtrip.sh
#
# Env: AWS (the aws binary; default .venv/bin/aws of the repo, else aws on PATH), PYTHON (to read
# dev.json; default .venv/bin/python, else python3). Credentials come only from dev.json, passed
# in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; no config or credentials file is read.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${KEYRAFT_DEV_JSON:?set KEYRAFT_DEV_JSON to the dev.json written by keyraft dev}"
if [[ -z "${AWS:-}" ]]; then
  if [[ -x "$root/.venv/bin/aws" ]]; then AWS="$root/.venv/bin/aws"; else AWS="$(command -v aws)"; fi
fi
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$root/.venv/bin/python" ]]; then PYTHON="$root/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
aws() { "$AWS" "$@"; }

dev() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$KEYRAFT_DEV_JSON" "$1"; }

export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_REGION AWS_DEFAULT_REGION || true
AWS_ACCESS_KEY_ID="$(dev 'd["access_key_id"]')"
AWS_SECRET_ACCESS_KEY="$(dev 'd["secret_access_key"]')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

US1="$(dev 'd["regions"]["us-east-1"]["endpoints"][0]')"
US2="$(dev 'd["regions"]["us-east-1"]["endpoints"][1]')"
EU1="$(dev 'd["regions"]["eu-west-1"]["endpoints"][0]')"
EU3="$(dev 'd["regions"]["eu-west-1"]["endpoints"][2]')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
trap 'echo "cli round trip: FAILED: command at line $LINENO exited non-zero: $BASH_COMMAND" >&2' ERR
cd "$work"

passed=0
failed=0
matches() { [[ "$1" =~ $2 ]]; }
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
check() { # check NAME COMMAND...: runs COMMAND, counts and reports
  local name="$1"; shift
  if "$@"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name" >&2
  fi
}

run_id="$(date +%s)-$$-$RANDOM"

# ---- us-east-1: region given with --region
id="$(aws kms create-key --description cli --query KeyMetadata.KeyId --output text --region us-east-1 --endpoint-url "$US1")"
check "us-east-1 create-key returned a key id ($id)" matches "$id" "$uuid_re"
aws kms create-alias --alias-name "alias/mykey-$run_id" --target-key-id "$id" --region us-east-1 --endpoint-url "$US1"
printf 'hello from the cli' > f
aws kms encrypt --key-id "alias/mykey-$run_id" --plaintext fileb://f --output text --query CiphertextBlob --region us-east-1 --endpoint-url "$US1" | base64 --decode > f.enc
check "us-east-1 ciphertext is not the plaintext" bash -c '[[ -s f.enc ]] && ! cmp -s f f.enc'
aws kms decrypt --ciphertext-blob fileb://f.enc --output text --query Plaintext --region us-east-1 --endpoint-url "$US1" | base64 --decode > f.dec
check "us-east-1 decrypt through the same node" cmp f f.dec
aws kms decrypt --ciphertext-blob fileb://f.enc --output text --query Plaintext --region us-east-1 --endpoint-url "$US2" | base64 --decode > f.dec2
check "us-east-1 decrypt through another node" cmp f f.dec2
key_arn="$(aws kms decrypt --ciphertext-blob fileb://f.enc --output text --query KeyId --region us-east-1 --endpoint-url "$US2")"
check "us-east-1 decrypt names the key ARN ($key_arn)" [ "$key_arn" = "arn:aws:kms:us-east-1:$(dev 'd["account_id"]'):key/$id" ]
desc="$(aws kms describe-key --key-id "alias/mykey-$run_id" --query KeyMetadata.Description --output text --region us-east-1 --endpoint-url "$US2")"
check "us-east-1 describe-key by alias through another node" [ "$desc" = cli ]

rc=0
aws kms decrypt --ciphertext-blob fileb://f.enc --output text --query Plaintext --region eu-west-1 --endpoint-url "$EU1" > cross.out 2> cross.err || rc=$?
check "eu-west-1 refuses the us-east-1 ciphertext (exit $rc)" [ "$rc" -ne 0 ]
check "  ... with InvalidCiphertextException" grep -q InvalidCiphertextException cross.err
grep -q InvalidCiphertextException cross.err || { echo "stderr was:" >&2; cat cross.err >&2; }
check "  ... and prints no plaintext" bash -c '! grep -q . cross.out'

# ---- eu-west-1: region given with AWS_DEFAULT_REGION
export AWS_DEFAULT_REGION=eu-west-1
id="$(aws kms create-key --description cli --query KeyMetadata.KeyId --output text --endpoint-url "$EU1")"
check "eu-west-1 create-key returned a key id ($id)" matches "$id" "$uuid_re"
aws kms create-alias --alias-name "alias/mykey-$run_id" --target-key-id "$id" --endpoint-url "$EU1"
printf 'hello from the cli in eu' > g
aws kms encrypt --key-id "alias/mykey-$run_id" --plaintext fileb://g --output text --query CiphertextBlob --endpoint-url "$EU1" | base64 --decode > g.enc
aws kms decrypt --ciphertext-blob fileb://g.enc --output text --query Plaintext --endpoint-url "$EU1" | base64 --decode > g.dec
check "eu-west-1 decrypt through the same node" cmp g g.dec
aws kms decrypt --ciphertext-blob fileb://g.enc --output text --query Plaintext --endpoint-url "$EU3" | base64 --decode > g.dec3
check "eu-west-1 decrypt through another node" cmp g g.dec3
unset AWS_DEFAULT_REGION

rc=0
aws kms decrypt --ciphertext-blob fileb://g.enc --output text --query Plaintext --region us-east-1 --endpoint-url "$US2" > cross.out 2> cross.err || rc=$?
check "us-east-1 refuses the eu-west-1 ciphertext (exit $rc)" [ "$rc" -ne 0 ]
check "  ... with InvalidCiphertextException" grep -q InvalidCiphertextException cross.err
grep -q InvalidCiphertextException cross.err || { echo "stderr was:" >&2; cat cross.err >&2; }
check "  ... and prints no plaintext" bash -c '! grep -q . cross.out'

# ---- a multi-Region key: primary in us-east-1, replica in eu-west-1, then the roles swapped
account="$(dev 'd["account_id"]')"
mrk="$(aws kms create-key --multi-region --description cli-mrk --query KeyMetadata.KeyId --output text --region us-east-1 --endpoint-url "$US1")"
check "create-key --multi-region returned an mrk- key id ($mrk)" matches "$mrk" '^mrk-[0-9a-f]{32}$'
replica_arn="$(aws kms replicate-key --key-id "$mrk" --replica-region eu-west-1 --query ReplicaKeyMetadata.Arn --output text --region us-east-1 --endpoint-url "$US2")"
check "replicate-key --replica-region eu-west-1 answers the replica ARN ($replica_arn)" [ "$replica_arn" = "arn:aws:kms:eu-west-1:$account:key/$mrk" ]
printf 'one key, two regions' > m
aws kms encrypt --key-id "$mrk" --plaintext fileb://m --output text --query CiphertextBlob --region us-east-1 --endpoint-url "$US1" | base64 --decode > m.enc
aws kms decrypt --ciphertext-blob fileb://m.enc --output text --query Plaintext --region eu-west-1 --endpoint-url "$EU3" | base64 --decode > m.dec
check "eu-west-1 decrypts the us-east-1 MRK ciphertext" cmp m m.dec
kid="$(aws kms decrypt --ciphertext-blob fileb://m.enc --output text --query KeyId --region eu-west-1 --endpoint-url "$EU1")"
check "  ... and names the eu-west-1 replica ($kid)" [ "$kid" = "$replica_arn" ]
mr_types() { # MultiRegionKeyType in us-east-1 / in eu-west-1
  local q='KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType'
  echo "$(aws kms describe-key --key-id "$mrk" --query "$q" --output text --region us-east-1 --endpoint-url "$US1")/$(aws kms describe-key --key-id "$mrk" --query "$q" --output text --region eu-west-1 --endpoint-url "$EU1")"
}
types="$(mr_types)"
check "describe-key MultiRegionKeyType: PRIMARY in us-east-1, REPLICA in eu-west-1 ($types)" [ "$types" = PRIMARY/REPLICA ]
aws kms update-primary-region --key-id "$mrk" --primary-region eu-west-1 --region us-east-1 --endpoint-url "$US1"
# (AWS: the update may still be in progress for a few seconds after the call returns)
for _ in $(seq 1 50); do types="$(mr_types)"; [ "$types" = REPLICA/PRIMARY ] && break; sleep 0.2; done
check "update-primary-region --primary-region eu-west-1 swaps the roles ($types)" [ "$types" = REPLICA/PRIMARY ]
aws kms encrypt --key-id "$mrk" --plaintext fileb://m --output text --query CiphertextBlob --region eu-west-1 --endpoint-url "$EU1" | base64 --decode > m2.enc
aws kms decrypt --ciphertext-blob fileb://m2.enc --output text --query Plaintext --region us-east-1 --endpoint-url "$US2" | base64 --decode > m2.dec
check "us-east-1 decrypts what the new eu-west-1 primary encrypted" cmp m m2.dec

echo "cli_roundtrip: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then exit 1; fi
