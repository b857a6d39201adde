"""Standard Webhooks signing: the spec's vector, the reference verifier, and every refusal."""

import base64
import time

import pytest
import standardwebhooks

from alpana_hooks import signing
from alpana_hooks.signing import SignatureError

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NOW = 1_700_000_000


def headers_for(secrets, msg_id="msg_1", timestamp=NOW, body=b'{"a": 1}'):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(secrets, msg_id, timestamp, body),
    }


def secret_of(n_bytes):
    return "whsec_" + base64.b64encode(b"k" * n_bytes).decode()


def test_spec_vector():
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_spec_vector_verifies():
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_generated_secret_round_trips_through_reference_library():
    secret = signing.generate_secret()
    assert secret.startswith("whsec_") and len(signing.parse_secret(secret)) == 32
    body = b'{"event": "dashboard.published", "id": 7}'
    headers = headers_for([secret], timestamp=int(time.time()), body=body)
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {
        "event": "dashboard.published",
        "id": 7,
    }


def test_generated_secrets_differ():
    assert signing.generate_secret() != signing.generate_secret()


@pytest.mark.parametrize("which", [0, 1])
def test_rotation_header_verifies_with_either_secret(which):
    secrets = [signing.generate_secret(), signing.generate_secret()]
    headers = headers_for(secrets)
    assert len(headers["webhook-signature"].split(" ")) == 2
    signing.verify(secrets[which], headers, b'{"a": 1}', now=NOW)
    standardwebhooks.Webhook(secrets[which]).verify(
        b'{"a": 1}', headers_for(secrets, timestamp=int(time.time()))
    )


def test_verify_headers_are_case_insensitive():
    secret = signing.generate_secret()
    headers = {name.upper(): value for name, value in headers_for([secret]).items()}
    signing.verify(secret, headers, b'{"a": 1}', now=NOW)


def test_tampered_body_fails():
    secret = signing.generate_secret()
    with pytest.raises(SignatureError, match="no signature matches"):
        signing.verify(secret, headers_for([secret]), b'{"a": 2}', now=NOW)


def test_wrong_secret_fails():
    headers = headers_for([signing.generate_secret()])
    with pytest.raises(SignatureError, match="no signature matches"):
        signing.verify(signing.generate_secret(), headers, b'{"a": 1}', now=NOW)


def test_signature_without_v1_entry_fails():
    secret = signing.generate_secret()
    headers = headers_for([secret]) | {"webhook-signature": "v1a,abc v2,def"}
    with pytest.raises(SignatureError, match="no v1 signature"):
        signing.verify(secret, headers, b'{"a": 1}', now=NOW)


def test_one_matching_entry_among_others_passes():
    secret = signing.generate_secret()
    headers = headers_for([secret])
    headers["webhook-signature"] = "v1,Zm9v v1a,xyz " + headers["webhook-signature"]
    signing.verify(secret, headers, b'{"a": 1}', now=NOW)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (-300, None),
        (300, None),
        (-301, r"timestamp too old \(301 s > 300 s tolerance\)"),
        (301, r"timestamp too new \(301 s ahead > 300 s tolerance\)"),
    ],
)
def test_timestamp_tolerance_edges(offset, message):
    secret = signing.generate_secret()
    headers = headers_for([secret], timestamp=NOW + offset)
    if message is None:
        signing.verify(secret, headers, b'{"a": 1}', now=NOW)
    else:
        with pytest.raises(SignatureError, match=message):
            signing.verify(secret, headers, b'{"a": 1}', now=NOW)


def test_custom_tolerance():
    secret = signing.generate_secret()
    headers = headers_for([secret], timestamp=NOW - 412)
    with pytest.raises(SignatureError, match=r"too old \(412 s > 300 s tolerance\)"):
        signing.verify(secret, headers, b'{"a": 1}', now=NOW)
    signing.verify(secret, headers, b'{"a": 1}', now=NOW, tolerance_seconds=412)


@pytest.mark.parametrize("value", ["abc", "1614265330.5", "-5", "", " "])
def test_non_integer_timestamp_fails(value):
    secret = signing.generate_secret()
    headers = headers_for([secret]) | {"webhook-timestamp": value}
    with pytest.raises(SignatureError, match="webhook-timestamp"):
        signing.verify(secret, headers, b'{"a": 1}', now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_fails(missing):
    secret = signing.generate_secret()
    headers = headers_for([secret])
    del headers[missing]
    with pytest.raises(SignatureError, match=f"missing {missing} header"):
        signing.verify(secret, headers, b'{"a": 1}', now=NOW)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_ prefix"),
        ("whsec_not*base64!!", "not whsec_ \\+ base64"),
        ("whsec_", "0 bytes"),
        (secret_of(16), "16 bytes"),
        (secret_of(23), "23 bytes"),
        (secret_of(65), "65 bytes"),
    ],
)
def test_bad_secrets_are_refused(secret, message):
    with pytest.raises(SignatureError, match=message):
        signing.parse_secret(secret)
    with pytest.raises(SignatureError):
        signing.sign(secret, "msg_1", NOW, b"{}")


@pytest.mark.parametrize("n_bytes", [24, 32, 64])
def test_secret_sizes_within_bounds_are_accepted(n_bytes):
    assert signing.parse_secret(secret_of(n_bytes)) == b"k" * n_bytes


def test_unpadded_secret_is_accepted():
    padded = secret_of(32)
    assert padded.endswith("=")
    assert signing.parse_secret(padded.rstrip("=")) == signing.parse_secret(padded)


def test_id_with_a_dot_is_refused():
    with pytest.raises(SignatureError, match="contains '.'"):
        signing.sign(VECTOR_SECRET, "msg.1", NOW, b"{}")


def test_received_id_with_a_dot_is_refused():
    headers = headers_for([VECTOR_SECRET]) | {"webhook-id": "msg.1"}
    with pytest.raises(SignatureError, match="contains '.'"):
        signing.verify(VECTOR_SECRET, headers, b'{"a": 1}', now=NOW)


def test_signature_header_needs_a_secret():
    with pytest.raises(SignatureError, match="no signing secret"):
        signing.signature_header([], "msg_1", NOW, b"{}")


def test_signature_covers_exact_bytes():
    a = signing.sign(VECTOR_SECRET, "msg_1", NOW, b'{"a":1}')
    b = signing.sign(VECTOR_SECRET, "msg_1", NOW, b'{"a": 1}')
    assert a != b
